//! The crate's shape, read from its own source: dependencies between top-level modules point
//! one way (entry points → HTTP surfaces and jobs → shared state → domains → foundation), and
//! no two top-level modules depend on each other, directly or through others. A new top-level
//! module must be placed in a layer here, so the shape cannot decay silently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use modules of its own layer (without a cycle) and of the
/// layers below, never those above.
const LAYERS: &[(&str, &[&str])] = &[
    ("entry points", &["startup", "cli", "demo"]),
    ("HTTP surfaces and background jobs", &["routes", "jobs"]),
    ("state shared by handlers and jobs", &["state"]),
    (
        "domains",
        &[
            "compliance",
            "followups",
            "recommendations",
            "orders",
            "preferences",
            "customers",
            "personalization",
            "products",
            "collections",
            "uploads",
            "writeback",
            "shops",
        ],
    ),
    (
        "storage, Shopify's protocols and utilities",
        &[
            "inbox",
            "sync",
            "shopify",
            "db",
            "config",
            "crypto",
            "error",
            "input",
            "cache",
            "money",
            "limits",
            "telemetry",
            "theme",
        ],
    ),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules `lib.rs` declares.
fn top_level_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').trim().to_owned())
        .collect()
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

/// The source without comments (doc comments name modules in prose).
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("//") { "" } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every top-level module named after `crate::` (paths, `use crate::x`, `use crate::{x, y::z}`),
/// and after `super::` in files whose parent is the crate root.
fn referenced_modules(code: &str, super_is_crate: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut prefixes = vec!["crate::"];
    if super_is_crate {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let preceded_by_ident = rest[..i].chars().next_back().is_some_and(is_ident);
            rest = &rest[i + prefix.len()..];
            if preceded_by_ident {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::{c, d}, e}`: the names at the group's first level.
                let mut depth = 1;
                let mut at_item_start = true;
                let mut name = String::new();
                for c in group.chars() {
                    if depth == 1 && at_item_start {
                        if is_ident(c) {
                            name.push(c);
                            continue;
                        }
                        if !name.is_empty() {
                            found.insert(std::mem::take(&mut name));
                            at_item_start = false;
                        }
                    }
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 1 => at_item_start = true,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
                if !name.is_empty() {
                    found.insert(name);
                }
            } else {
                let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// `module → modules it uses`, for the top-level modules.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let modules = top_level_modules();
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut deps: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let top = parts[0].trim_end_matches(".rs").to_owned();
        if !modules.contains(&top) {
            continue; // lib.rs, main.rs, assets
        }
        // `src/x.rs` and `src/x/mod.rs` are the module itself: their `super` is the crate.
        let super_is_crate = parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod.rs");
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for used in referenced_modules(&code, super_is_crate) {
            if used != top && modules.contains(&used) {
                deps.get_mut(&top).unwrap().insert(used);
            }
        }
    }
    deps
}

/// The groups of modules that reach each other (Tarjan's strongly connected components of
/// more than one module).
fn cycles(deps: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        deps: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in &self.deps[v] {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        deps,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in deps.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_two_top_level_modules_depend_on_each_other() {
    let deps = dependencies();
    let found = cycles(&deps);
    let explain: Vec<String> = found
        .iter()
        .map(|group| {
            let edges: Vec<String> = group
                .iter()
                .flat_map(|m| {
                    deps[m]
                        .iter()
                        .filter(|d| group.contains(d))
                        .map(move |d| format!("{m} → {d}"))
                })
                .collect();
            format!("{{{}}}: {}", group.join(", "), edges.join(", "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "top-level modules in a dependency cycle:\n{}",
        explain.join("\n")
    );
}

#[test]
fn dependencies_point_down_the_layers() {
    let deps = dependencies();
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, mods))| mods.iter().map(move |m| (*m, i)))
        .collect();
    let unplaced: Vec<&String> = deps
        .keys()
        .filter(|m| !layer_of.contains_key(m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules not placed in a layer of tests/api/layout.rs: {unplaced:?}"
    );
    let mut upward = Vec::new();
    for (m, used) in &deps {
        for d in used {
            let (from, to) = (layer_of[m.as_str()], layer_of[d.as_str()]);
            if to < from {
                upward.push(format!(
                    "{m} ({}) uses {d} ({})",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "dependencies pointing up the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_grouped_and_inline_paths_and_ignores_comments() {
    let code = code_of(
        "use crate::{a, b::{c, d}, e::F};\n// crate::commented\nfn f() { crate::g::h(); x_crate::no(); }\nuse super::s;",
    );
    let found = referenced_modules(&code, false);
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["a", "b", "e", "g"]);
    assert!(referenced_modules(&code, true).contains("s"));
    let mut deps = BTreeMap::new();
    deps.insert("x".to_owned(), BTreeSet::from(["y".to_owned()]));
    deps.insert("y".to_owned(), BTreeSet::from(["z".to_owned()]));
    deps.insert("z".to_owned(), BTreeSet::from(["x".to_owned()]));
    deps.insert("w".to_owned(), BTreeSet::from(["x".to_owned()]));
    assert_eq!(cycles(&deps), vec![vec!["x", "y", "z"]]);
}
