//! `stepkit completions`: shell completions (clap_complete) and man pages (clap_mangen), both
//! made from the same clap definitions the binary parses its command line with.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Args;
use clap_complete::Shell;

use super::print_text;
use crate::core::error::{Kind, ResultExt, Verdict};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stepkit completions bash > /usr/share/bash-completion/completions/stepkit
  stepkit completions zsh > \"${fpath[1]}/_stepkit\"
  stepkit completions man --out-dir /usr/share/man/man1")]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell, elvish, or man (the manual pages)
    #[arg(value_name = "KIND")]
    kind: OutputKind,

    /// Write into this directory under the usual file name instead of printing; man pages need
    /// it for the subcommands' pages (without it only stepkit.1 is printed)
    #[arg(long, env = "STEPKIT_OUT_DIR", value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
enum OutputKind {
    Shell(Shell),
    Man,
}

impl FromStr for OutputKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("man") {
            return Ok(OutputKind::Man);
        }
        Shell::from_str(&text.to_ascii_lowercase())
            .map(OutputKind::Shell)
            .map_err(|_| {
                format!(
                    "unknown kind {text:?}: expected bash, zsh, fish, powershell, elvish or man"
                )
            })
    }
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<Verdict> {
    let command = super::command();
    match (args.kind, &args.out_dir) {
        (OutputKind::Shell(shell), None) => print_text(&completion_script(shell, command))?,
        (OutputKind::Shell(shell), Some(dir)) => {
            let path = dir.join(completion_file_name(shell));
            write(&path, completion_script(shell, command).as_bytes())?;
            tracing::info!("wrote {}", path.display());
        }
        (OutputKind::Man, None) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .or_kind(Kind::LocalIo, || "cannot render the man page".to_owned())?;
            print_text(&String::from_utf8_lossy(&page))?;
        }
        (OutputKind::Man, Some(dir)) => {
            std::fs::create_dir_all(dir).or_kind(Kind::LocalIo, || {
                format!("cannot create the man page directory {}", dir.display())
            })?;
            clap_mangen::generate_to(command, dir).or_kind(Kind::LocalIo, || {
                format!("cannot write the man pages into {}", dir.display())
            })?;
            tracing::info!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(Verdict::Pass)
}

/// The completion script of `shell` for `stepkit`.
fn completion_script(shell: Shell, mut command: clap::Command) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "stepkit", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// Where each shell looks for a command's completions by name.
fn completion_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "stepkit",
        Shell::Zsh => "_stepkit",
        Shell::Fish => "stepkit.fish",
        Shell::PowerShell => "_stepkit.ps1",
        Shell::Elvish => "stepkit.elv",
        _ => "stepkit.completion",
    }
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)
        .or_kind(Kind::LocalIo, || format!("cannot write {}", path.display()))
}
