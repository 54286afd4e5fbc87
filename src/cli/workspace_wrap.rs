//! `stepkit workspace wrap | restore`: rewrite a Pipeline so its workspaces travel over OCI,
//! and the step the rewritten Tasks run first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::Args;

use super::workspace::{RegistryArgs, UnpackLimitArgs};
use super::{block_on, print_text};
use crate::core::error::{Error, Verdict};
use crate::core::output::write_atomic;
use crate::workspace::restore::{restore, RestoreOptions, Source};
use crate::workspace::wrap::{wrap, WrapOptions};

#[derive(Debug, Args)]
pub struct WrapArgs {
    /// A Pipeline, or a PipelineRun with pipelineSpec or pipelineRef
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Where workspaces are pushed: REGISTRY/REPO[:TAG]; {{workspace}}, $(context.pipelineRun.name|uid)
    /// and $(context.pipelineTask.name) in it [default tag: $(context.pipelineRun.uid)-$(context.pipelineTask.name)]
    #[arg(long, env = "STEPKIT_TO", value_name = "REF")]
    to: String,

    /// A workspace to carry over OCI; repeatable [default: a PipelineRun's emptyDir ones, a Pipeline's all]
    #[arg(
        long = "workspace",
        env = "STEPKIT_WORKSPACE",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    workspaces: Vec<String>,

    /// A directory of Tasks (and Pipelines) that taskRefs resolve to; repeatable
    #[arg(
        long = "tasks",
        env = "STEPKIT_TASKS",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    tasks: Vec<PathBuf>,

    /// What the first Tasks restore ({{workspace}} in it) [default: nothing]
    #[arg(long, env = "STEPKIT_BASE", value_name = "REF")]
    base: Option<String>,

    /// Push in the Trusted Artifacts form (oci:REPO@sha256:<blob>, gzip), as Konflux passes sources
    #[arg(long, env = "STEPKIT_TRUSTED_ARTIFACTS", value_parser = BoolishValueParser::new())]
    trusted_artifacts: bool,

    /// The default of the Pipeline's stepkit-image param
    #[arg(
        long,
        env = "STEPKIT_IMAGE",
        default_value = "quay.io/stepkit/stepkit:0.1.0",
        value_name = "IMAGE"
    )]
    stepkit_image: String,

    /// The default of the Pipeline's stepkit-insecure-registries param (HOST:PORT, comma-separated)
    #[arg(
        long,
        env = "STEPKIT_INSECURE_REGISTRY",
        default_value = "",
        value_name = "HOST:PORT"
    )]
    insecure_registry: String,

    /// Write to this file instead of standard output
    #[arg(
        short,
        long,
        env = "STEPKIT_OUTPUT",
        value_name = "FILE",
        conflicts_with = "in_place"
    )]
    output: Option<PathBuf>,

    /// Rewrite FILE in place
    #[arg(short, long, env = "STEPKIT_IN_PLACE", value_parser = BoolishValueParser::new())]
    in_place: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The workspace directory to restore into
    #[arg(value_name = "DEST")]
    dest: PathBuf,

    /// TASK=REF: what TASK pushed, by the digest its result holds; TASK?=REF:TAG: what TASK
    /// pushed if it did (it may have been skipped). Repeatable, in merge order
    #[arg(long = "from", value_name = "TASK=REF")]
    from: Vec<String>,

    /// TASK=A,B: TASK's content already holds A's and B's (dropped when TASK pushed); repeatable
    #[arg(long, value_name = "TASK=TASKS")]
    covers: Vec<String>,

    /// Restored when no source pushed
    #[arg(long, env = "STEPKIT_BASE", value_name = "REF")]
    base: Option<String>,

    /// TASK=REF (or TASK?=REF:TAG): what parallel writers started from, to merge their changes
    #[arg(long, value_name = "TASK=REF")]
    merge_base: Option<String>,

    /// Keep setuid, setgid and sticky bits
    #[arg(long, env = "STEPKIT_PRESERVE_SPECIAL_BITS", value_parser = BoolishValueParser::new())]
    preserve_special_bits: bool,

    #[command(flatten)]
    limits: UnpackLimitArgs,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run_wrap(args: WrapArgs) -> anyhow::Result<Verdict> {
    let options = WrapOptions {
        input: args.file.clone(),
        tasks_dirs: args.tasks,
        workspaces: args.workspaces,
        to: args.to,
        base: args.base,
        trusted_artifacts: args.trusted_artifacts,
        stepkit_image: args.stepkit_image,
        insecure_registries: args.insecure_registry,
    };
    let wrapped = wrap(&options)?;
    if args.in_place && wrapped.input_documents > 1 {
        return Err(Error::usage(format!(
            "-i: {} holds {} documents and the output is one; write it with -o",
            args.file.display(),
            wrapped.input_documents
        ))
        .into());
    }
    tracing::info!(
        "carrying {} over OCI in {}",
        wrapped.workspaces.join(", "),
        wrapped.tasks.join(", ")
    );
    for name in &wrapped.rebound {
        tracing::info!("workspace {name} was bound to a volume claim: now to an emptyDir");
    }
    match (args.in_place, &args.output) {
        (true, _) => write_atomic(&args.file, wrapped.yaml.as_bytes())?,
        (false, Some(path)) => write_atomic(path, wrapped.yaml.as_bytes())?,
        (false, None) => print_text(&wrapped.yaml)?,
    }
    Ok(Verdict::Pass)
}

pub fn run_restore(args: RestoreArgs) -> anyhow::Result<Verdict> {
    let pair = |flag: &str, value: &str| -> anyhow::Result<(String, String)> {
        match value.split_once('=') {
            Some((task, rest)) if !task.is_empty() && !rest.is_empty() => {
                Ok((task.to_string(), rest.to_string()))
            }
            _ => Err(Error::usage(format!("--{flag} {value:?}: expected TASK=VALUE")).into()),
        }
    };
    let source = |flag: &str, value: &str| -> anyhow::Result<Source> {
        let (task, reference) = pair(flag, value)?;
        let (task, optional) = match task.strip_suffix('?') {
            Some(task) => (task.to_string(), true),
            None => (task, false),
        };
        Ok(Source {
            task,
            reference,
            optional,
        })
    };
    let sources = args
        .from
        .iter()
        .map(|value| source("from", value))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merge_base = args
        .merge_base
        .as_deref()
        .map(|value| source("merge-base", value))
        .transpose()?;
    let mut covers = BTreeMap::new();
    for value in &args.covers {
        let (task, list) = pair("covers", value)?;
        covers.insert(task, list.split(',').map(str::to_string).collect());
    }
    let options = RestoreOptions {
        dest: args.dest,
        sources,
        covers,
        base: args.base,
        merge_base,
        preserve_special_bits: args.preserve_special_bits,
        max_size: args.limits.max_size,
        max_file_size: args.limits.max_file_size,
        registry: args.registry.options(),
        auth: args.registry.auth(),
    };
    let restored = block_on(restore(&options))?;
    if restored.from.is_empty() {
        tracing::info!("restored nothing: no earlier Task pushed");
    } else {
        tracing::info!("restored from {}", restored.from.join(", "));
    }
    Ok(Verdict::Pass)
}
