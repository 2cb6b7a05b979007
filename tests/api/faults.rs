//! A full disk under the database: 503s with a clear log line, never a
//! crash, and recovery as soon as the disk is usable again.
//!
//! These mount a small tmpfs, so they need root; `.ci/run` runs them with
//! `cargo test --test api -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app_with};

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(parent: &Path, size: &str) -> SmallDisk {
        let path = parent.join("disk");
        std::fs::create_dir_all(&path).unwrap();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                path.to_str().unwrap(),
            ],
        );
        SmallDisk { path }
    }

    /// Writes a filler file until the disk refuses more.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(
        status.success(),
        "{program} {args:?} failed (these tests need root)"
    );
}

#[tokio::test]
#[ignore = "needs root to mount a tmpfs; run by .ci/run"]
async fn a_full_disk_gives_503s_and_sign_in_recovers_when_space_returns() {
    let outer = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(outer.path(), "2m");
    let db = disk.path.join("doorcode.db");
    let app = spawn_app_with(|c| c.database.path = db.clone()).await;
    let person = browser();
    app.sign_up(&person, "before@example.com", "Before", "")
        .await;

    let filler = disk.fill();
    let mut refused = 0;
    for n in 0..40 {
        let status = app
            .post_login(&browser(), &format!("full{n}@example.com"))
            .await
            .status();
        assert!(
            matches!(status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE),
            "got {status}"
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            refused += 1;
        }
    }
    assert!(refused > 0, "a full disk never refused a sign-in");
    assert_eq!(
        app.get(&person, "/").await.status(),
        StatusCode::OK,
        "signed-in people can still read"
    );

    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        app.post_login(&browser(), "after@example.com")
            .await
            .status(),
        StatusCode::OK,
        "recovered"
    );
    app.smtp.wait_for_mail_to("after@example.com").await;
}
