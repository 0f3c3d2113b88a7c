//! Which Python module to load and how to build the environment, per the profile's recipe.

use super::{Action, Requirements, Step};
use crate::profile::raw::VenvRecipe;
use crate::profile::scalar::PythonVersion;
use crate::profile::Profile;
use crate::quote::{sh, sh_path};
use serde::Serialize;

/// The module that provides the requested Python.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum ModuleChoice {
    /// A module name the profile lists.
    Known { name: String },
    /// The profile lists none for this version: the probe picks the newest match on the cluster.
    OnCluster { version: String, list_command: String },
    /// The recipe brings its own Python (container wrapper).
    NotNeeded,
}

impl ModuleChoice {
    pub fn display(&self) -> String {
        match self {
            ModuleChoice::Known { name } => name.clone(),
            ModuleChoice::OnCluster { version, .. } => {
                format!("<newest Python {version} module on the cluster>")
            }
            ModuleChoice::NotNeeded => "no module: the container brings its own Python".into(),
        }
    }
}

/// The newest listed module that matches `version`, else "find it on the cluster".
pub fn choose(profile: &Profile, version: &PythonVersion) -> ModuleChoice {
    let py = &profile.raw.python;
    if py.venv.recipe == VenvRecipe::ContainerWrapper {
        return ModuleChoice::NotNeeded;
    }
    py.modules
        .known
        .iter()
        .rev()
        .find(|m| PythonVersion::find_in(m.as_str()).is_some_and(|v| version.matches(&v)))
        .map(|m| ModuleChoice::Known { name: m.to_string() })
        .unwrap_or_else(|| ModuleChoice::OnCluster {
            version: version.to_string(),
            list_command: py.modules.list_command.to_string(),
        })
}

/// The Python step, plus the modules to load and the activation line for the job template.
pub fn step(
    profile: &Profile,
    version: &PythonVersion,
    module: &ModuleChoice,
    venv: &str,
    snapshots: &str,
    requirements: Requirements,
) -> (Step, Vec<String>, String) {
    let py = &profile.raw.python;
    let mut loads: Vec<String> = py.modules.prerequisites.iter().map(|m| m.to_string()).collect();
    if module != &ModuleChoice::NotNeeded {
        loads.push(module.display());
    }
    let venv_q = sh_path(venv);
    let python = format!("{venv_q}/bin/python");
    let latest = format!("{snapshots}/latest");
    let no_index = if py.venv.pip_no_index { " --no-index" } else { "" };
    let mut lines = vec![py.modules.reset.to_string()];
    if !loads.is_empty() {
        lines.push(format!("module load {}", loads.iter().map(|m| sh(m)).collect::<Vec<_>>().join(" ")));
    }
    let activate = match py.venv.recipe {
        VenvRecipe::Venv | VenvRecipe::Virtualenv => {
            lines.push(match py.venv.recipe {
                VenvRecipe::Venv if py.venv.system_site_packages => {
                    format!("python3 -m venv --system-site-packages {venv_q}")
                }
                VenvRecipe::Venv => format!("python3 -m venv {venv_q}"),
                _ => format!("virtualenv --no-download {venv_q}"),
            });
            lines.push(format!("{python} -m pip install{no_index} --upgrade pip"));
            match requirements {
                Requirements::RequirementsTxt => lines.push(format!(
                    "{python} -m pip install{no_index} -r {}",
                    sh_path(&format!("{latest}/requirements.txt"))
                )),
                Requirements::Pyproject => {
                    lines.push(format!("{python} -m pip install{no_index} {}", sh_path(&latest)))
                }
                Requirements::None => {}
            }
            lines.push(format!("{python} -c 'import sys; print(sys.version)'"));
            format!("source {venv_q}/bin/activate")
        }
        VenvRecipe::ContainerWrapper => {
            let reqs = match requirements {
                Requirements::RequirementsTxt | Requirements::None => {
                    sh_path(&format!("{latest}/requirements.txt"))
                }
                Requirements::Pyproject => {
                    format!("{}  # needs a requirements.txt", sh_path(&format!("{latest}/requirements.txt")))
                }
            };
            lines.push(format!("pip-containerize new --prefix {venv_q} {reqs}"));
            lines.push(format!("{venv_q}/bin/python -c 'import sys; print(sys.version)'"));
            format!("export PATH={venv_q}/bin:\"$PATH\"")
        }
    };
    let what = match requirements {
        Requirements::RequirementsTxt => "installs requirements.txt",
        Requirements::Pyproject => "installs the project from pyproject.toml",
        Requirements::None => "no requirements file found: installs nothing more",
    };
    let recipe = match py.venv.recipe {
        VenvRecipe::Venv => "python -m venv",
        VenvRecipe::Virtualenv => "virtualenv --no-download, pip --no-index (the site's wheelhouse)",
        VenvRecipe::ContainerWrapper => "pip-containerize (native pip installs are not allowed)",
    };
    let mut module_label = module.display();
    if let ModuleChoice::Known { name } = module {
        let i = py.modules.known.iter().position(|m| m.as_str() == name).unwrap_or_default();
        if profile.unverified(&format!("python.modules.known[{i}]")).is_some() {
            module_label.push_str(", UNVERIFIED: checked on the cluster first");
        }
    }
    let summary = format!(
        "Build {venv} with Python {version} ({module_label}) by {recipe}; {what}; then prove it runs with the same modules loaded."
    );
    let step = Step {
        id: "python",
        title: "Python environment".into(),
        summary,
        action: Action::Python {
            version: version.to_string(),
            module: module.clone(),
            loads: loads.clone(),
            venv: venv.to_string(),
            script: lines.join("\n"),
        },
    };
    (step, loads, activate)
}
