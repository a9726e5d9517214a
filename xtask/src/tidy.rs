//! `cargo xtask tidy`: the dependency rules of ARCHITECTURE.md ("API boundaries"), checked on
//! `cargo metadata` (in the spirit of rust-analyzer's tidy tests). The rules are the tables
//! below: a new crate that needs an exception gets a line there, with its reason.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::json::{self, Value};

pub const HELP: &str = "\
cargo xtask tidy [--manifest-path <Cargo.toml>]

Checks the workspace's dependency rules on `cargo metadata` (also the first step of
`cargo xtask test`) and fails naming the crate, the dependency and the rule:
  - a crate under crates/ (other than crmsync-testkit) depends on a package under mock-servers/
    outside [dev-dependencies];
  - crmsync-core depends on anything but its allow-list (pure data crates), or links an I/O or
    async crate (tokio, mio, sqlx, hyper, futures, async-*, ...);
  - a heavy dependency enters a crate not allowed it: aws-* and lambda_* only in crmsync-lambda
    and crmsync-aws (the deploy tool)
    (and as dev-dependencies of crmsync-testkit), async-graphql* only in mock-monday;
  - the normal (non-dev) dependency closure of crmsync-cli, which builds `crmsync`, (and of
    crmsync-lambda) holds a mock or async-graphql.
The rules are tables in xtask/src/tidy.rs; ARCHITECTURE.md explains them.
--manifest-path checks another workspace (the tests use it on deliberately bad ones).
";

// ---------------------------------------------------------------------------------------------
// The rules (data)

/// Names of packages, by exact name, by prefix, or by where a workspace member lives.
#[derive(Debug, Clone, Copy)]
enum Pat {
    Exact(&'static str),
    Prefix(&'static str),
    /// A workspace member whose directory is under this one (relative to the workspace root).
    Under(&'static str),
}

impl Pat {
    fn matches(self, pkg: &Pkg) -> bool {
        match self {
            Pat::Exact(n) => pkg.name == n,
            Pat::Prefix(p) => pkg.name.starts_with(p),
            Pat::Under(dir) => pkg.dir.as_deref().is_some_and(|d| is_under(d, dir)),
        }
    }

    fn describe(self) -> String {
        match self {
            Pat::Exact(n) => n.to_owned(),
            Pat::Prefix(p) => format!("{p}*"),
            Pat::Under(dir) => format!("packages under {dir}/"),
        }
    }
}

/// The product's crates live here; the mocks there.
const PRODUCT_DIR: &str = "crates";
const MOCKS_DIR: &str = "mock-servers";
/// The only crates under `crates/` that may depend on the mocks outside dev-dependencies.
const MOCK_USERS: &[&str] = &["crmsync-testkit"];

const CORE: &str = "crmsync-core";
/// Everything `crmsync-core` may depend on (normal and build kinds): pure data crates.
const CORE_ALLOWED: &[&str] = &["serde", "serde_json", "toml", "chrono", "thiserror"];
/// Never in `crmsync-core`'s normal closure, not even through an allowed crate.
const IO_OR_ASYNC: &[Pat] = &[
    Pat::Prefix("tokio"),
    Pat::Prefix("reqwest"),
    Pat::Prefix("sqlx"),
    Pat::Prefix("hyper"),
    Pat::Prefix("axum"),
    Pat::Prefix("tower"),
    Pat::Prefix("async-"),
    Pat::Prefix("futures"),
    Pat::Prefix("smol"),
    Pat::Exact("mio"),
    Pat::Exact("socket2"),
    Pat::Exact("polling"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    AnyKind,
    DevOnly,
}

/// A heavy dependency and the only crates that may have it as a direct dependency.
struct Heavy {
    what: &'static str,
    pats: &'static [Pat],
    allowed: &'static [(&'static str, Allowed)],
}

const HEAVY: &[Heavy] = &[
    Heavy {
        what: "an AWS SDK or Lambda runtime crate",
        pats: &[Pat::Prefix("aws-"), Pat::Prefix("lambda_")],
        allowed: &[
            ("crmsync-lambda", Allowed::AnyKind),
            // The deploy tool (`crmsync-deploy`): the only crate with the AWS SDK.
            ("crmsync-aws", Allowed::AnyKind),
            // SQS (queue mode) and S3 (backups) for `crmsync` and the Lambda.
            ("crmsync-cloud", Allowed::AnyKind),
            ("crmsync-testkit", Allowed::DevOnly),
        ],
    },
    Heavy {
        what: "the GraphQL server",
        pats: &[Pat::Prefix("async-graphql")],
        allowed: &[("mock-monday", Allowed::AnyKind)],
    },
];

/// Packages whose normal (non-dev) dependency closure must hold none of `forbidden`. A root that
/// is not in the workspace (yet) is skipped.
struct Closure {
    root: &'static str,
    builds: &'static str,
    forbidden: &'static [Pat],
}

const CLOSURES: &[Closure] = &[
    Closure {
        root: "crmsync-cli",
        builds: "the `crmsync` binary",
        forbidden: &[
            Pat::Under(MOCKS_DIR),
            Pat::Prefix("mock-"),
            Pat::Prefix("async-graphql"),
        ],
    },
    Closure {
        root: "crmsync-lambda",
        builds: "the Lambda `bootstrap` binary",
        forbidden: &[
            Pat::Under(MOCKS_DIR),
            Pat::Prefix("mock-"),
            Pat::Prefix("async-graphql"),
        ],
    },
];

/// A tolerated dependency edge, only while package `until` does not exist: once it does, the
/// edge is a violation again and the line should be deleted.
struct Exception {
    krate: &'static str,
    dep: Pat,
    until: &'static str,
    why: &'static str,
}

const EXCEPTIONS: &[Exception] = &[];

// ---------------------------------------------------------------------------------------------
// The workspace, as `cargo metadata` describes it

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Dev,
    Build,
}

impl Kind {
    fn parse(v: Option<&Value>) -> Kind {
        match v.and_then(Value::as_str) {
            Some("dev") => Kind::Dev,
            Some("build") => Kind::Build,
            _ => Kind::Normal,
        }
    }

    fn section(self) -> &'static str {
        match self {
            Kind::Normal => "[dependencies]",
            Kind::Dev => "[dev-dependencies]",
            Kind::Build => "[build-dependencies]",
        }
    }
}

#[derive(Debug)]
struct Pkg {
    name: String,
    /// For workspace members: the directory relative to the workspace root (`crates/cli`).
    dir: Option<String>,
}

#[derive(Debug)]
struct Edge {
    to: String,
    kinds: Vec<Kind>,
}

#[derive(Debug)]
struct Workspace {
    /// Every package of the resolve, by id.
    pkgs: HashMap<String, Pkg>,
    /// Workspace member ids, in cargo's order.
    members: Vec<String>,
    /// Resolved dependencies, by package id.
    graph: HashMap<String, Vec<Edge>>,
}

impl Workspace {
    fn from_metadata(text: &str) -> Result<Workspace> {
        let meta = json::parse(text).context("reading `cargo metadata` output")?;
        let root = meta
            .get("workspace_root")
            .and_then(Value::as_str)
            .context("`cargo metadata` output has no workspace_root")?;
        let members: Vec<String> = meta
            .get("workspace_members")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let member_set: HashSet<&str> = members.iter().map(String::as_str).collect();
        let mut pkgs = HashMap::new();
        for p in meta.get("packages").map(Value::items).unwrap_or_default() {
            let (Some(id), Some(name)) = (
                p.get("id").and_then(Value::as_str),
                p.get("name").and_then(Value::as_str),
            ) else {
                bail!("`cargo metadata`: a package without id or name");
            };
            let dir = match member_set.contains(id) {
                true => p
                    .get("manifest_path")
                    .and_then(Value::as_str)
                    .map(|m| relative_dir(root, m)),
                false => None,
            };
            pkgs.insert(
                id.to_owned(),
                Pkg {
                    name: name.to_owned(),
                    dir,
                },
            );
        }
        let resolve = meta
            .get("resolve")
            .context("`cargo metadata` output has no resolve graph (was --no-deps used?)")?;
        let mut graph = HashMap::new();
        for node in resolve.get("nodes").map(Value::items).unwrap_or_default() {
            let id = node
                .get("id")
                .and_then(Value::as_str)
                .context("`cargo metadata`: a resolve node without id")?;
            let edges = node
                .get("deps")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|d| {
                    let to = d.get("pkg")?.as_str()?.to_owned();
                    let kinds = d
                        .get("dep_kinds")
                        .map(Value::items)
                        .unwrap_or_default()
                        .iter()
                        .map(|k| Kind::parse(k.get("kind")))
                        .collect();
                    Some(Edge { to, kinds })
                })
                .collect();
            graph.insert(id.to_owned(), edges);
        }
        Ok(Workspace {
            pkgs,
            members,
            graph,
        })
    }

    fn pkg(&self, id: &str) -> Option<&Pkg> {
        self.pkgs.get(id)
    }

    fn member_named(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|id| self.pkg(id).is_some_and(|p| p.name == name))
            .map(String::as_str)
    }

    /// (dependency package, kind) of a member's direct dependencies, one row per kind.
    fn direct(&self, id: &str) -> Vec<(&Pkg, Kind)> {
        let mut out = Vec::new();
        for e in self.graph.get(id).map(Vec::as_slice).unwrap_or_default() {
            if let Some(p) = self.pkg(&e.to) {
                let mut kinds = e.kinds.clone();
                kinds.dedup();
                out.extend(kinds.into_iter().map(|k| (p, k)));
            }
        }
        out
    }
}

fn relative_dir(root: &str, manifest: &str) -> String {
    let dir = Path::new(manifest).parent().unwrap_or(Path::new(""));
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    rel.to_string_lossy().replace('\\', "/")
}

fn is_under(dir: &str, parent: &str) -> bool {
    dir.strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn shown(p: &Pkg) -> String {
    match &p.dir {
        Some(d) => format!("{} ({d})", p.name),
        None => p.name.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

#[derive(Debug, Default)]
struct Report {
    violations: Vec<String>,
    notes: Vec<String>,
}

fn check(ws: &Workspace) -> Report {
    let mut r = Report::default();
    let active: Vec<&Exception> = EXCEPTIONS
        .iter()
        .filter(|e| {
            let live = ws.member_named(e.until).is_none();
            if live {
                r.notes.push(format!(
                    "allowed for now: {} -> {} ({}), until {} exists",
                    e.krate,
                    e.dep.describe(),
                    e.why,
                    e.until
                ));
            } else {
                r.notes.push(format!(
                    "the exception {} -> {} has expired ({} exists): delete it from \
                     xtask/src/tidy.rs",
                    e.krate,
                    e.dep.describe(),
                    e.until
                ));
            }
            live
        })
        .collect();
    let excepted = |from: &Pkg, to: &Pkg| {
        active
            .iter()
            .any(|e| e.krate == from.name && e.dep.matches(to))
    };

    for id in &ws.members {
        let Some(me) = ws.pkg(id) else { continue };
        let product = me.dir.as_deref().is_some_and(|d| is_under(d, PRODUCT_DIR));
        for (dep, kind) in ws.direct(id) {
            // 1. The product does not depend on the mocks.
            if product
                && kind != Kind::Dev
                && !MOCK_USERS.contains(&me.name.as_str())
                && Pat::Under(MOCKS_DIR).matches(dep)
                && !excepted(me, dep)
            {
                r.violations.push(format!(
                    "{} depends on {} in {}.\n  rule: a crate under {PRODUCT_DIR}/ depends on \
                     the mocks ({MOCKS_DIR}/) only in [dev-dependencies]; only {} may link them \
                     (the product never does).\n  fix: move it to [dev-dependencies], or move \
                     the code that needs it to the test kit.",
                    shown(me),
                    shown(dep),
                    kind.section(),
                    MOCK_USERS.join(", "),
                ));
            }
            // 2. Core stays pure: an allow-list.
            if me.name == CORE && kind != Kind::Dev && !CORE_ALLOWED.contains(&dep.name.as_str()) {
                r.violations.push(format!(
                    "{} depends on {} in {}.\n  rule: {CORE} is pure (no I/O, no async, no \
                     clock) and may depend only on: {}.\n  fix: keep the I/O in the caller; if \
                     `{}` is a pure data crate, add it to CORE_ALLOWED in xtask/src/tidy.rs and \
                     to ARCHITECTURE.md.",
                    shown(me),
                    dep.name,
                    kind.section(),
                    CORE_ALLOWED.join(", "),
                    dep.name,
                ));
            }
            // 3. Heavy dependencies only where they are allowed.
            for h in HEAVY {
                if !h.pats.iter().any(|p| p.matches(dep)) {
                    continue;
                }
                let ok = h.allowed.iter().any(|&(name, allowed)| {
                    name == me.name && (allowed == Allowed::AnyKind || kind == Kind::Dev)
                });
                if !ok && !excepted(me, dep) {
                    let allowed: Vec<String> = h
                        .allowed
                        .iter()
                        .map(|(n, a)| match a {
                            Allowed::AnyKind => (*n).to_owned(),
                            Allowed::DevOnly => format!("{n} (dev-dependencies)"),
                        })
                        .collect();
                    r.violations.push(format!(
                        "{} depends on {} in {}.\n  rule: {} ({}) is allowed only in: {}.\n  \
                         fix: remove it, or move the code that needs it to one of those crates.",
                        shown(me),
                        dep.name,
                        kind.section(),
                        h.what,
                        describe_all(h.pats),
                        allowed.join(", "),
                    ));
                }
            }
        }
    }

    // 2b. Core's closure, and 4. the binaries' closures.
    if let Some(core) = ws.member_named(CORE) {
        for path in closure_hits(ws, core, IO_OR_ASYNC, &excepted) {
            r.violations.push(format!(
                "{CORE} links {} through {}.\n  rule: {CORE} is pure: its normal dependency \
                 closure holds no I/O or async crate ({}).\n  fix: keep the I/O in the caller, \
                 or disable the feature that pulls it in (`cargo tree -e normal,build -p {CORE} \
                 -i {}` shows the way).",
                path[path.len() - 1],
                path.join(" -> "),
                describe_all(IO_OR_ASYNC),
                path[path.len() - 1],
            ));
        }
    }
    for c in CLOSURES {
        let Some(root) = ws.member_named(c.root) else {
            continue;
        };
        for path in closure_hits(ws, root, c.forbidden, &excepted) {
            r.violations.push(format!(
                "{} links {} through {} (normal dependencies).\n  rule: {} builds {}, whose \
                 normal dependency closure holds none of: {}.\n  fix: make the first crate of \
                 that chain a dev-dependency, or move the code that needs it out of {} \
                 (`cargo tree -e normal,build -p {} -i {}` shows the way).",
                c.root,
                path[path.len() - 1],
                path.join(" -> "),
                c.root,
                c.builds,
                describe_all(c.forbidden),
                c.root,
                c.root,
                path[path.len() - 1],
            ));
        }
    }
    r
}

fn describe_all(pats: &[Pat]) -> String {
    pats.iter()
        .map(|p| p.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every package matching one of `pats` in the non-dev dependency closure of `root`, each as the
/// shortest chain of package names from `root` to it; excepted edges are not followed, and
/// neither is anything below a match (the first offender of a chain is the one to fix).
fn closure_hits(
    ws: &Workspace,
    root: &str,
    pats: &[Pat],
    excepted: &dyn Fn(&Pkg, &Pkg) -> bool,
) -> Vec<Vec<String>> {
    let name = |id: &str| ws.pkg(id).map_or_else(|| id.to_owned(), |p| p.name.clone());
    let mut hits = Vec::new();
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([root]);
    let mut seen = HashSet::from([root]);
    while let Some(id) = queue.pop_front() {
        let Some(from) = ws.pkg(id) else { continue };
        for e in ws.graph.get(id).map(Vec::as_slice).unwrap_or_default() {
            let Some(to) = ws.pkg(&e.to) else { continue };
            if e.kinds.iter().all(|k| *k == Kind::Dev) || excepted(from, to) {
                continue;
            }
            if !seen.insert(e.to.as_str()) {
                continue;
            }
            parent.insert(e.to.as_str(), id);
            if pats.iter().any(|p| p.matches(to)) {
                let mut path = vec![to.name.clone()];
                let mut cur = e.to.as_str();
                while let Some(&p) = parent.get(cur) {
                    path.push(name(p));
                    cur = p;
                }
                path.reverse();
                hits.push(path);
            } else {
                queue.push_back(e.to.as_str());
            }
        }
    }
    hits
}

// ---------------------------------------------------------------------------------------------
// The command

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let manifest = match args {
        [] => root.join("Cargo.toml"),
        [flag, path] if flag == "--manifest-path" => path.into(),
        [other, ..] => bail!("unexpected argument {other:?}\n\n{HELP}"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The dependencies of the platform we build on: an unfiltered resolve also holds e.g.
    // wasm-only crates (chrono -> iana-time-zone -> js-sys -> futures-util) no build links.
    let host = host_triple()?;
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .context("running `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata --manifest-path {}` failed:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let text = String::from_utf8(out.stdout).context("`cargo metadata` printed no UTF-8")?;
    let ws = Workspace::from_metadata(&text)?;
    let report = check(&ws);
    for n in &report.notes {
        eprintln!("xtask: tidy: note: {n}");
    }
    if report.violations.is_empty() {
        eprintln!(
            "xtask: tidy: {} workspace crates follow the dependency rules",
            ws.members.len()
        );
        return Ok(());
    }
    for v in &report.violations {
        eprintln!("xtask: tidy: {v}");
    }
    bail!(
        "tidy: {} dependency rule violation(s) (see above; the rules are in ARCHITECTURE.md, \
         \"API boundaries\")",
        report.violations.len()
    )
}

/// `host:` of `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running `{rustc} -vV`"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .with_context(|| format!("`{rustc} -vV` printed no host triple"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_means_the_directory_or_below() {
        assert!(is_under("mock-servers/monday", "mock-servers"));
        assert!(is_under("mock-servers", "mock-servers"));
        assert!(!is_under("mock-servers-old/x", "mock-servers"));
        assert!(!is_under("crates/mock-servers", "mock-servers"));
    }

    #[test]
    fn member_directories_are_relative_to_the_root() {
        assert_eq!(relative_dir("/w", "/w/crates/cli/Cargo.toml"), "crates/cli");
        assert_eq!(relative_dir("/w", "/w/Cargo.toml"), "");
    }
}
