use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
    doorcode::cli::run(doorcode::cli::Cli::parse())
}

/// glibc gives threads that allocate at once heaps of their own, up to eight per
/// core, each keeping freed memory for reuse. doorcode's requests allocate little
/// and briefly, so two heaps serve them as fast and hold about 10 MB less. An
/// operator's own `MALLOC_ARENA_MAX` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: runs before any other thread exists; mallopt only sets a limit
        // the allocator reads when it creates a heap.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
