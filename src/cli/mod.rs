//! Command-line tools beside the server: `import` applies order and product files to an
//! installed shop, `eval` measures the recommendation model offline, `synth` writes synthetic
//! stores for it.

pub mod eval;
pub mod import;
pub mod synth;
pub mod tastes;

/// `--name VALUE` from a command line.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}
