//! The direction of imports, read from the source: each top-level module names
//! only modules of lower layers, and no two files of one folder name each other,
//! directly or round a longer circle. README's architecture section is the map.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may import from any layer below its own, never above,
/// and modules of one layer not from each other.
const LAYERS: &[&[&str]] = &[
    &["clock", "domain", "i18n", "metrics"],
    &["rules"],
    &["storage"],
    &["config"],
    &["forms", "redirect", "captcha", "mail"],
    &["session"],
    &["oidc"],
    &["login"],
    &["passkeys"],
    &["state"],
    &["web"],
    &["pages"],
    &["routes", "api"],
    &["app"],
    &["startup"],
    &["cli"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, so a doc line that names a module is not an import.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` (`crate::`, `super::`), including each name of a
/// group (`crate::{a, b::c}` gives a and b).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            names.insert(name);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn every_module_imports_only_from_layers_below_its_own() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(src()).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let own =
            layer_of(&top).unwrap_or_else(|| panic!("src/{top} is in no layer: add it to LAYERS"));
        for name in names_after(&code_of(file), "crate::") {
            if name == top {
                continue;
            }
            match layer_of(&name) {
                Some(theirs) if theirs < own => {}
                Some(_) => wrong.push(format!("{} imports crate::{name}", relative.display())),
                None => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that go up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_of_a_folder_import_each_other() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    // folder -> sibling -> siblings it names
    let mut graphs: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let folder = file.parent().unwrap().to_path_buf();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        if stem == "mod" || stem == "lib" || stem == "main" {
            continue;
        }
        let siblings: BTreeSet<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != file)
            .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
            .filter(|s| s != "mod")
            .collect();
        let code = code_of(file);
        // `super::x` from a folder's file, or `super::x` inside a folder module's
        // `mod.rs` children: the same sibling names.
        let named: BTreeSet<String> = names_after(&code, "super::")
            .into_iter()
            .filter(|name| siblings.contains(name))
            .collect();
        graphs.entry(folder).or_default().insert(stem, named);
    }
    let mut cycles = Vec::new();
    for (folder, graph) in &graphs {
        for start in graph.keys() {
            // A path back to `start` through what it names is a circle.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, path)) = stack.pop() {
                for next in graph.get(&at).into_iter().flatten() {
                    if next == start {
                        cycles.push(format!(
                            "{}: {} -> {start}",
                            folder.display(),
                            path.join(" -> ")
                        ));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "files that import each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_reader_of_imports_sees_groups_and_paths() {
    let code = "use crate::{a, b::{c, d}, e::F};\nuse crate::g::H;\nlet x = my_crate::z;";
    let names: Vec<_> = names_after(code, "crate::").into_iter().collect();
    assert_eq!(names, ["a", "b", "e", "g"]);
}
