//! What the project needs from Python, read from its files: the requirement lines of
//! `requirements.txt` (with `-r` includes followed) or of `pyproject.toml`'s
//! `[project].dependencies`, and `requires-python`. Reads the project directory only.
//!
//! The lines travel to the cluster inside the venv step's script, so the environment can be
//! built before (and apart from) the code snapshot. Lines that name code on this machine
//! (`-e .`, `./pkg`, `file:`) cannot be installed there: they are set aside with the reason, and
//! the plan shows them.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `requirements.txt` in the project root.
    RequirementsTxt,
    /// `pyproject.toml` without a `requirements.txt`.
    Pyproject,
    #[default]
    None,
}

/// The project's Python needs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectPython {
    pub source: Source,
    /// Requirement lines to install, in order.
    pub lines: Vec<String>,
    /// Lines left out, with why.
    pub skipped: Vec<Skipped>,
    /// `requires-python` from `pyproject.toml`, as written.
    pub requires_python: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub line: String,
    pub why: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}:{line}: `{text}` includes itself through -r", path.display())]
    Cycle { path: PathBuf, line: usize, text: String },
}

impl crate::exit::Diagnostic for RequirementsError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            RequirementsError::Read { .. } => "check that the file exists and that you may read it".into(),
            RequirementsError::Toml { .. } => {
                "fix pyproject.toml at the place named (it must be valid TOML)".into()
            }
            RequirementsError::Cycle { .. } => {
                "remove the -r line that points back to a file already included".into()
            }
        })
    }
}

/// Reads a requirements file named elsewhere (a course file's `requirements`), as
/// `requirements.txt` is read.
pub fn read_file(path: &Path) -> Result<ProjectPython, RequirementsError> {
    let mut p = ProjectPython { source: Source::RequirementsTxt, ..Default::default() };
    let mut seen = Vec::new();
    read_txt(path, &mut seen, &mut p)?;
    Ok(p)
}

/// Reads `requirements.txt`, else `pyproject.toml`, in `dir`.
pub fn read(dir: &Path) -> Result<ProjectPython, RequirementsError> {
    let mut p = ProjectPython::default();
    let pyproject = dir.join("pyproject.toml");
    let doc = if pyproject.is_file() {
        let text = std::fs::read_to_string(&pyproject)
            .map_err(|e| RequirementsError::Read { path: pyproject.clone(), source: e })?;
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| RequirementsError::Toml {
            path: pyproject.clone(),
            message: match e.span() {
                Some(span) => {
                    format!("line {}: {}", text[..span.start].matches('\n').count() + 1, e.message())
                }
                None => e.message().to_string(),
            },
        })?;
        Some(doc)
    } else {
        None
    };
    let project = doc.as_ref().and_then(|d| d.get("project")).and_then(|p| p.as_table());
    p.requires_python =
        project.and_then(|t| t.get("requires-python")).and_then(|v| v.as_str()).map(str::to_string);
    let txt = dir.join("requirements.txt");
    if txt.is_file() {
        p.source = Source::RequirementsTxt;
        let mut seen = Vec::new();
        read_txt(&txt, &mut seen, &mut p)?;
    } else if let Some(project) = project {
        p.source = Source::Pyproject;
        if let Some(deps) = project.get("dependencies").and_then(|d| d.as_array()) {
            for d in deps.iter().filter_map(|d| d.as_str()) {
                keep(d.trim(), &mut p);
            }
        }
    }
    Ok(p)
}

fn read_txt(path: &Path, seen: &mut Vec<PathBuf>, p: &mut ProjectPython) -> Result<(), RequirementsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RequirementsError::Read { path: path.into(), source: e })?;
    seen.push(path.canonicalize().unwrap_or_else(|_| path.into()));
    read_text(path, &text, seen, p)
}

/// Requirement lines written inside another file (a course file's inline `requirements`), read
/// as a requirements file's lines; `-r` is relative to `origin`'s directory.
pub fn read_inline(origin: &Path, lines: &[String]) -> Result<ProjectPython, RequirementsError> {
    let mut p = ProjectPython { source: Source::RequirementsTxt, ..Default::default() };
    read_text(origin, &lines.join("\n"), &mut Vec::new(), &mut p)?;
    Ok(p)
}

fn read_text(
    path: &Path,
    text: &str,
    seen: &mut Vec<PathBuf>,
    p: &mut ProjectPython,
) -> Result<(), RequirementsError> {
    let mut pending = String::new();
    for (i, raw) in text.lines().enumerate() {
        // A trailing backslash continues the line.
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(raw);
        let line = strip_comment(&std::mem::take(&mut pending)).trim().to_string();
        if line.is_empty() {
            continue;
        }
        let include = ["-r ", "--requirement ", "--requirement="]
            .iter()
            .find_map(|o| line.strip_prefix(o))
            .or_else(|| line.strip_prefix("-r").filter(|r| !r.starts_with(' ')));
        if let Some(rel) = include {
            let next = path.parent().unwrap_or(Path::new(".")).join(rel.trim());
            let canon = next.canonicalize().unwrap_or_else(|_| next.clone());
            if seen.contains(&canon) {
                return Err(RequirementsError::Cycle { path: path.into(), line: i + 1, text: line });
            }
            read_txt(&next, seen, p)?;
            continue;
        }
        keep(&line, p);
    }
    Ok(())
}

/// What pip's hash-checking mode will refuse in `lines`, one message per line: once any line has
/// `--hash`, pip requires every requirement to be pinned with `==` (or `===`) and to carry a
/// hash (https://pip.pypa.io/en/stable/topics/secure-installs/). Empty when no line has a hash.
pub fn hash_mode_problems(lines: &[String]) -> Vec<String> {
    let hashed = |l: &str| l.split_whitespace().any(|w| w.starts_with("--hash"));
    if !lines.iter().any(|l| hashed(l)) {
        return Vec::new();
    }
    let form = regex::Regex::new(r"^--hash=(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")
        .expect("static regex");
    let mut problems = Vec::new();
    for l in lines.iter().filter(|l| !l.starts_with('-')) {
        let name = l.split_whitespace().next().unwrap_or(l);
        if !name.contains("==") {
            problems
                .push(format!("`{name}` is not pinned with `==`, which pip's hash-checking mode requires"));
        }
        let hashes: Vec<&str> = l.split_whitespace().filter(|w| w.starts_with("--hash")).collect();
        if hashes.is_empty() {
            problems.push(format!("`{name}` has no --hash, and another requirement has one"));
        }
        for h in hashes.iter().filter(|h| !form.is_match(h)) {
            problems.push(format!(
                "`{name}`: `{h}` is not a hash pip takes (`--hash=sha256:` and 64 hex digits)"
            ));
        }
    }
    problems
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => &line[..i],
        None => line,
    }
}

fn keep(line: &str, p: &mut ProjectPython) {
    let skip =
        |why: &str, p: &mut ProjectPython| p.skipped.push(Skipped { line: line.into(), why: why.into() });
    if line.starts_with("-e ") || line.starts_with("--editable") {
        skip("an editable install of code on this machine: jobs run from the code snapshot instead", p);
    } else if line.starts_with("-c ") || line.starts_with("--constraint") {
        skip("constraints files are not carried to the cluster", p);
    } else if line.starts_with('.')
        || line.starts_with('/')
        || line.starts_with("file:")
        || line.starts_with('~')
    {
        skip("a path on this machine, which the cluster cannot read", p);
    } else {
        p.lines.push(line.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_lines_are_read_as_a_file_is() {
        let lines: Vec<String> = ["numpy==2.1.0  # pinned", "", "-e .", "pandas"].map(String::from).to_vec();
        let p = read_inline(Path::new("course/hpcinit-course.yaml"), &lines).unwrap();
        assert_eq!(p.lines, ["numpy==2.1.0", "pandas"]);
        assert_eq!(p.skipped.len(), 1, "the editable line is set aside");
    }

    #[test]
    fn hash_mode_names_each_line_pip_would_refuse() {
        let h = format!("--hash=sha256:{}", "a".repeat(64));
        let ok: Vec<String> = vec![format!("numpy==2.1.0 {h}"), format!("six==1.16.0 {h} {h}")];
        assert!(hash_mode_problems(&ok).is_empty());
        let no_hashes: Vec<String> = vec!["numpy".into(), "six==1.16.0".into()];
        assert!(hash_mode_problems(&no_hashes).is_empty(), "no hash anywhere: pip's usual mode");
        let bad: Vec<String> =
            vec![format!("numpy==2.1.0 {h}"), "pandas>=2".into(), "six==1.16.0 --hash=md5:abc".into()];
        let p = hash_mode_problems(&bad);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("`pandas>=2` is not pinned"), "{p:?}");
        assert!(p[1].contains("`pandas>=2` has no --hash"), "{p:?}");
        assert!(p[2].contains("`six==1.16.0`: `--hash=md5:abc` is not a hash"), "{p:?}");
    }

    #[test]
    fn requirements_txt_with_includes_comments_and_local_lines() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("requirements.txt"),
            "# top\nnumpy>=1.24  # arrays\n-r extra.txt\n-e .\n./vendor/pkg\npandas \\\n  ==2.1\n",
        )
        .unwrap();
        std::fs::write(d.path().join("extra.txt"), "requests\n--index-url https://example.org/simple\n")
            .unwrap();
        let p = read(d.path()).unwrap();
        assert_eq!(p.source, Source::RequirementsTxt);
        assert_eq!(
            p.lines,
            ["numpy>=1.24", "requests", "--index-url https://example.org/simple", "pandas   ==2.1"]
        );
        assert_eq!(p.skipped.iter().map(|s| s.line.as_str()).collect::<Vec<_>>(), ["-e .", "./vendor/pkg"]);
    }

    #[test]
    fn include_cycles_are_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("requirements.txt"), "-r a.txt\n").unwrap();
        std::fs::write(d.path().join("a.txt"), "x\n-r requirements.txt\n").unwrap();
        assert!(matches!(read(d.path()), Err(RequirementsError::Cycle { line: 2, .. })));
    }

    #[test]
    fn pyproject_dependencies_and_requires_python() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\nrequires-python = \">=3.11\"\ndependencies = [\"numpy\", \"scipy>=1.10\"]\n",
        )
        .unwrap();
        let p = read(d.path()).unwrap();
        assert_eq!(p.source, Source::Pyproject);
        assert_eq!(p.lines, ["numpy", "scipy>=1.10"]);
        assert_eq!(p.requires_python.as_deref(), Some(">=3.11"));
    }

    #[test]
    fn broken_pyproject_names_the_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("pyproject.toml"), "[project]\nname = \"x\"\nrequires-python = \n")
            .unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("pyproject.toml: line 3"), "{e}");
    }

    #[test]
    fn no_files_no_requirements() {
        let d = tempfile::tempdir().unwrap();
        let p = read(d.path()).unwrap();
        assert_eq!(p.source, Source::None);
        assert!(p.lines.is_empty());
    }
}
