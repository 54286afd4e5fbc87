//! `stepkit workspace push | pull` (wrap and restore: `workspace_wrap.rs`).

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};

use super::retry::RetryArgs;
use super::{block_on, print_line, GlobalArgs};
use crate::core::error::{Error, Verdict};
use crate::workspace::archive::Compression;
use crate::workspace::auth::AuthEnv;
use crate::workspace::pull::{pull, PullOptions};
use crate::workspace::push::{push, push_target, PushOptions, ResultTarget, Source};
use crate::workspace::reference::WorkspaceRef;
use crate::workspace::registry::{parse_source_date_epoch, ExpiresAfter, RegistryOptions};
use crate::workspace::state::StateChoice;

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Pack PATH (or RESULT=PATH pairs) and push it; print and write the pinned reference
    Push(Box<PushArgs>),
    /// Restore REF into DEST (or REF=DEST pairs); nothing reaches DEST before its digest is verified
    Pull(PullArgs),
    /// Rewrite a Pipeline or PipelineRun so its workspaces travel between Tasks over OCI
    Wrap(Box<super::workspace_wrap::WrapArgs>),
    /// Restore what the Tasks before this one pushed (the first step of a wrapped Task)
    Restore(Box<super::workspace_wrap::RestoreArgs>),
}

/// Registry access shared by push and pull. A blob transfer is one request: its attempt is
/// bounded by the registry staying silent for --request-timeout, and the whole by a long
/// --retry-deadline.
#[derive(Debug, Args)]
#[command(
    mut_arg("request_timeout", |arg| arg
        .default_value("5m")
        .help("Time a registry may stay silent (connecting, or between two reads) in one attempt")),
    mut_arg("retry_deadline", |arg| arg.default_value("30m")),
    mut_arg("retries", |arg| arg.default_value("3")),
)]
pub(super) struct RegistryArgs {
    /// Registry (HOST:PORT) to reach over plain HTTP; repeatable or comma-separated
    #[arg(
        long,
        env = "STEPKIT_INSECURE_REGISTRY",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    insecure_registry: Vec<String>,

    /// PEM file of extra CA certificates for the registry
    #[arg(long, env = "STEPKIT_CA_FILE", value_name = "PATH")]
    ca_file: Option<PathBuf>,

    /// Time a docker credential helper (credHelpers, credsStore) may take before it is stopped
    #[arg(long, env = "STEPKIT_CREDENTIAL_HELPER_TIMEOUT", default_value = "60s", value_parser = crate::core::duration::parse_duration, value_name = "DURATION")]
    credential_helper_timeout: std::time::Duration,

    #[command(flatten)]
    retry: RetryArgs,
}

impl RegistryArgs {
    /// Where credentials come from: the process environment, with the helper timeout.
    pub(super) fn auth(&self) -> AuthEnv {
        AuthEnv {
            helper_timeout: Some(self.credential_helper_timeout),
            ..AuthEnv::from_env()
        }
    }

    pub(super) fn options(&self) -> RegistryOptions {
        RegistryOptions {
            insecure_registries: self.insecure_registry.clone(),
            ca_file: self.ca_file.clone(),
            retries: self.retry.retries,
            retry_deadline: self.retry.retry_deadline,
            timeout: self.retry.request_timeout,
            ..RegistryOptions::default()
        }
    }
}

/// Where pull records what it restored, and push finds it.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The state record of the workspace: what pull restored, so that a push of it sends only
    /// what changed [default: .NAME.stepkit-state.json beside the workspace directory NAME];
    /// never inside the workspace
    #[arg(long, env = "STEPKIT_STATE_FILE", value_name = "FILE")]
    state_file: Option<PathBuf>,

    /// Pull records no state; push ignores it and sends the whole tree
    #[arg(long, env = "STEPKIT_NO_STATE", value_parser = BoolishValueParser::new(), conflicts_with = "state_file")]
    no_state: bool,
}

impl StateArgs {
    fn choice(&self) -> StateChoice {
        match (&self.state_file, self.no_state) {
            (_, true) => StateChoice::None,
            (Some(file), false) => StateChoice::File(file.clone()),
            (None, false) => StateChoice::Beside,
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// A directory or file [default: .], or RESULT=PATH pairs as Trusted Artifacts `create` takes
    /// them (RESULT: a result file path, or a result name)
    #[arg(value_name = "PATH")]
    paths: Vec<String>,

    /// REGISTRY/REPO[:TAG]; {{workspace}} is replaced by --workspace-name
    #[arg(long, env = "STEPKIT_TO", value_name = "REF")]
    to: String,

    /// Fills {{workspace}} [default: PATH's base name]
    #[arg(long, env = "STEPKIT_WORKSPACE_NAME", value_name = "NAME")]
    workspace_name: Option<String>,

    /// Also write the pinned reference (no newline) to this file
    #[arg(long = "result", env = "STEPKIT_RESULT_FILE", value_name = "FILE")]
    result_file: Option<PathBuf>,

    /// Also write the pinned reference as this result in the results directory
    #[arg(long, env = "STEPKIT_RESULT_NAME", value_name = "NAME")]
    result_name: Option<String>,

    /// zstd (fast, stepkit to stepkit) or gzip
    #[arg(
        long,
        env = "STEPKIT_COMPRESSION",
        default_value = "zstd",
        value_name = "FORMAT"
    )]
    compression: Compression,

    /// The Trusted Artifacts form: a gzip tarball referenced as oci:REPO@sha256:<blob digest>
    #[arg(long, env = "STEPKIT_TRUSTED_ARTIFACTS", value_parser = BoolishValueParser::new())]
    trusted_artifacts: bool,

    /// Leave out paths matching GLOB; repeatable or comma-separated
    #[arg(
        long,
        env = "STEPKIT_EXCLUDE",
        value_delimiter = ',',
        value_name = "GLOB"
    )]
    exclude: Vec<String>,

    /// Adds the quay.expires-after annotation, e.g. 1d (Trusted Artifacts' IMAGE_EXPIRES_AFTER)
    #[arg(long, env = "IMAGE_EXPIRES_AFTER", value_name = "AGE")]
    expires_after: Option<ExpiresAfter>,

    /// Where the packed blob is spooled before upload [default: the system temporary directory]
    #[arg(long, env = "STEPKIT_TMP_DIR", value_name = "DIR")]
    tmp_dir: Option<PathBuf>,

    /// Hash every file to find what changed since the pull, rather than trusting a file whose
    /// size, times and inode are as recorded
    #[arg(long, env = "STEPKIT_VERIFY", value_parser = BoolishValueParser::new())]
    verify: bool,

    /// Most layers an artifact may stack; a push past it sends the whole tree as one layer
    #[arg(long, env = "STEPKIT_MAX_LAYERS", default_value = "8", value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    max_layers: u16,

    /// Keep each file's mtime, as tar does, so that pull restores it (by default every mtime
    /// is 1970-01-01, so the digest depends on content and modes only)
    #[arg(long, env = "STEPKIT_PRESERVE_MTIME", value_parser = BoolishValueParser::new())]
    preserve_mtime: bool,

    #[command(flatten)]
    state: StateArgs,

    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// REF [DEST], or REF=DEST pairs as Trusted Artifacts `use` takes them; REF is
    /// oci:REPO@sha256:…, REPO@sha256:… or REPO:TAG
    #[arg(value_name = "REF", required = true)]
    refs: Vec<String>,

    /// Keep setuid, setgid and sticky bits
    #[arg(long, env = "STEPKIT_PRESERVE_SPECIAL_BITS", value_parser = BoolishValueParser::new())]
    preserve_special_bits: bool,

    #[command(flatten)]
    limits: UnpackLimitArgs,

    #[command(flatten)]
    state: StateArgs,

    #[command(flatten)]
    registry: RegistryArgs,
}

/// How much a restore may write: `pull` and `restore` take the same limits.
#[derive(Debug, Clone, Args)]
pub(super) struct UnpackLimitArgs {
    /// Most bytes the files restored from one REF may hold, e.g. 20GiB or 500M (sparse files
    /// count at their full size) [default: the uncompressed size the artifact's manifest
    /// annotates, else 8GiB]
    #[arg(long, env = "STEPKIT_MAX_SIZE", value_parser = parse_size, value_name = "SIZE")]
    pub(super) max_size: Option<u64>,

    /// Most bytes one restored file may hold [default: --max-size]
    #[arg(long, env = "STEPKIT_MAX_FILE_SIZE", value_parser = parse_size, value_name = "SIZE")]
    pub(super) max_file_size: Option<u64>,
}

pub fn run(command: WorkspaceCommand, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    match command {
        WorkspaceCommand::Push(args) => run_push(*args, global),
        WorkspaceCommand::Pull(args) => run_pull(args),
        WorkspaceCommand::Wrap(args) => super::workspace_wrap::run_wrap(*args),
        WorkspaceCommand::Restore(args) => super::workspace_wrap::run_restore(*args),
    }
}

fn run_push(args: PushArgs, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    let mut sources = Vec::new();
    for arg in &args.paths {
        match arg.split_once('=') {
            Some((result, path)) if !result.is_empty() && !path.is_empty() => {
                let target = if result.contains('/') {
                    ResultTarget::File(PathBuf::from(result))
                } else {
                    ResultTarget::Named(result.to_owned())
                };
                sources.push(Source {
                    path: PathBuf::from(path),
                    results: vec![target],
                });
            }
            Some(_) => {
                return Err(Error::usage(format!("{arg:?}: expected RESULT=PATH")).into());
            }
            None => sources.push(Source {
                path: PathBuf::from(arg),
                results: Vec::new(),
            }),
        }
    }
    if sources.is_empty() {
        sources.push(Source {
            path: PathBuf::from("."),
            results: Vec::new(),
        });
    }
    if args.result_file.is_some() || args.result_name.is_some() {
        if sources.len() > 1 {
            return Err(Error::usage(
                "--result and --result-name name one reference: with several sources use RESULT=PATH pairs",
            )
            .into());
        }
        let results = &mut sources[0].results;
        results.extend(args.result_file.map(ResultTarget::File));
        results.extend(args.result_name.map(ResultTarget::Named));
    }
    // Every value checked here, before any file is packed or the registry is reached.
    let to = push_target(&args.to, args.workspace_name.as_deref(), &sources[0].path)?;
    let created = parse_source_date_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    let options = PushOptions {
        sources,
        to,
        compression: args.compression,
        trusted_artifacts: args.trusted_artifacts,
        excludes: args.exclude,
        expires_after: args.expires_after,
        created,
        temp_dir: args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir),
        results_dir: global.results_dir.clone(),
        state: args.state.choice(),
        verify: args.verify,
        max_layers: usize::from(args.max_layers),
        preserve_mtime: args.preserve_mtime,
        registry: args.registry.options(),
        auth: args.registry.auth(),
    };
    let pushed = block_on(push(&options))?;
    for reference in &pushed.references {
        print_line(reference)?;
    }
    Ok(Verdict::Pass)
}

fn run_pull(args: PullArgs) -> anyhow::Result<Verdict> {
    let refs = &args.refs;
    let pairs: Vec<(&str, PathBuf)> = if refs.iter().all(|r| r.contains('=')) {
        refs.iter()
            .map(|pair| {
                let (reference, dest) = pair.rsplit_once('=').expect("checked above");
                (reference, PathBuf::from(dest))
            })
            .collect()
    } else {
        match refs.as_slice() {
            [reference] => vec![(reference.as_str(), PathBuf::from("."))],
            [reference, dest] if !dest.contains('=') => {
                vec![(reference.as_str(), PathBuf::from(dest))]
            }
            _ => {
                return Err(Error::usage(
                    "expected REF [DEST], or REF=DEST pairs (all of them pairs)",
                )
                .into())
            }
        }
    };
    // Every reference parsed before the first one is fetched.
    let pairs = pairs
        .into_iter()
        .map(|(reference, dest)| Ok((reference.parse::<WorkspaceRef>()?, dest)))
        .collect::<Result<Vec<_>, Error>>()?;
    let options = PullOptions {
        pairs,
        preserve_special_bits: args.preserve_special_bits,
        max_size: args.limits.max_size,
        max_file_size: args.limits.max_file_size,
        state: args.state.choice(),
        registry: args.registry.options(),
        auth: args.registry.auth(),
    };
    let pulled = block_on(pull(&options))?;
    tracing::info!("restored {} files, {} bytes", pulled.files, pulled.bytes);
    Ok(Verdict::Pass)
}

/// A size in bytes: a number, optionally with a unit (`500M`, `20GiB`, `1.5 TB`; `K`, `M`, `G`
/// are powers of 1000 and `Ki`, `Mi`, `Gi` of 1024, as in Kubernetes quantities).
fn parse_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text.trim().parse().map_err(|_| {
        format!("{text:?} is not a size: give bytes, or a number with a unit such as 500M or 20GiB")
    })?;
    if size.as_u64() == 0 {
        return Err(format!("{text:?}: the size must be more than 0"));
    }
    Ok(size.as_u64())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_kubernetes_quantities_do() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("500M"), Ok(500_000_000));
        assert_eq!(parse_size("20GiB"), Ok(20 << 30));
        assert_eq!(parse_size("2Gi"), Ok(2 << 30));
        assert_eq!(parse_size(" 1.5 KiB "), Ok(1536));
        for bad in ["", "lots", "-1G", "0", "12 parsecs"] {
            let error = parse_size(bad).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
        }
    }
}
