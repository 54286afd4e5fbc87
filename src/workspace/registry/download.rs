//! Downloading a blob: streamed to the caller as it arrives, hashed on the way, resumed where a
//! dropped connection stopped it, and only reported done once its digest matched.

use std::path::Path;

use futures_util::StreamExt;
use oci_client::client::BlobResponse;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::classify::{classify, classify_io, Failure, FailureKind};
use super::manifest::{check_digest, format_digest};
use super::{Registry, UPLOAD_CHUNK};
use crate::core::error::Error;

impl Registry {
    /// Downloads blob `digest` into `dest_file` (created or truncated) and returns its size.
    /// On a digest mismatch (exit 5), or any other failure, `dest_file` is removed.
    pub async fn pull_blob_to_file(&self, digest: &str, dest_file: &Path) -> anyhow::Result<u64> {
        let written = async {
            let file = tokio::fs::File::create(dest_file).await?;
            let mut file = tokio::io::BufWriter::with_capacity(UPLOAD_CHUNK, file);
            let pulled = self.pull_blob_into(digest, &mut file).await?;
            match pulled.sink_error {
                Some(error) => Err(error.into()),
                None => {
                    file.flush().await?;
                    Ok(pulled.size)
                }
            }
        };
        let result: anyhow::Result<u64> = written.await.map_err(|error: anyhow::Error| {
            match error.downcast::<std::io::Error>() {
                Ok(io) => {
                    Error::local_io(format!("cannot write {}: {io}", dest_file.display())).into()
                }
                Err(other) => other,
            }
        });
        if result.is_err() {
            if let Err(error) = std::fs::remove_file(dest_file) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove {}: {error}", dest_file.display());
                }
            }
        }
        result
    }

    /// Streams blob `digest` into `sink` as it arrives, hashing on the way, and returns once
    /// the whole blob was read and its digest matched (otherwise exit 5).
    ///
    /// An interrupted download resumes at the byte where it stopped (a `Range` request; from a
    /// registry that ignores it, the bytes already written are read past), so `sink` receives
    /// every byte once and in order. If `sink` stops taking bytes, the download still runs to
    /// the end, so that a corrupted blob is reported as a digest mismatch rather than as
    /// whatever the sink made of it; the sink's error comes back in [`BlobPulled::sink_error`].
    /// Until this returns `Ok`, what `sink` received is unverified and must not be used.
    pub async fn pull_blob_into<W>(&self, digest: &str, sink: &mut W) -> anyhow::Result<BlobPulled>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let what = format!("pulling blob {digest} from {}", self.name());
        check_digest(digest, &what)?;
        self.store_auth().await;
        let progress = std::sync::Mutex::new(Download {
            hasher: Sha256::new(),
            received: 0,
            sink: Some(sink),
            sink_error: None,
        });
        self.retrying(&what, || self.download_from(digest, &progress))
            .await
            .map_err(|failure| self.error(&what, failure))?;
        let download = progress
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner());
        let actual = format_digest(&download.hasher.finalize());
        if actual != digest {
            let failure = Failure::new(
                FailureKind::DigestMismatch,
                format!(
                    "the registry sent {} bytes whose digest is {actual}, not {digest}",
                    download.received
                ),
            );
            return Err(self.error(&what, (failure, 1)));
        }
        Ok(BlobPulled {
            size: download.received,
            sink_error: download.sink_error,
        })
    }

    /// One request for the rest of a blob, from the first byte not yet received.
    async fn download_from<W>(
        &self,
        digest: &str,
        progress: &std::sync::Mutex<Download<'_, W>>,
    ) -> Result<(), Failure>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let offset = lock(progress).received;
        let response = match self
            .client
            .pull_blob_stream_partial(&self.base(), digest, offset, None)
            .await
            .map_err(classify)
        {
            Ok(response) => response,
            // Cut off right after the last byte: there is nothing left, the digest decides.
            Err(failure) if offset > 0 && failure.status == Some(416) => return Ok(()),
            Err(failure) => return Err(failure),
        };
        let (mut stream, mut skip) = match response {
            BlobResponse::Partial(stream) => (stream.stream, 0),
            // The registry ignored the range: read past what was already received.
            BlobResponse::Full(stream) => (stream.stream, offset),
        };
        while let Some(chunk) = stream.next().await {
            let mut chunk = chunk.map_err(classify_io)?;
            if skip > 0 {
                let past = skip.min(chunk.len() as u64);
                skip -= past;
                let _ = chunk.split_to(past as usize);
            }
            if chunk.is_empty() {
                continue;
            }
            let mut sink = {
                let mut download = lock(progress);
                download.hasher.update(&chunk);
                download.received += chunk.len() as u64;
                download.sink.take()
            };
            if let Some(writer) = sink.as_mut() {
                if let Err(error) = writer.write_all(&chunk).await {
                    let mut download = lock(progress);
                    download.sink_error = Some(error);
                    sink = None;
                }
            }
            lock(progress).sink = sink;
        }
        if skip > 0 {
            return Err(Failure::new(
                FailureKind::Transient,
                format!(
                    "the registry sent the blob shorter than the {offset} bytes already received"
                ),
            ));
        }
        let mut sink = lock(progress).sink.take();
        if let Some(writer) = sink.as_mut() {
            if let Err(error) = writer.flush().await {
                lock(progress).sink_error = Some(error);
                sink = None;
            }
        }
        lock(progress).sink = sink;
        Ok(())
    }
}

/// A download in progress: what survives from one attempt to the next.
struct Download<'a, W> {
    hasher: Sha256,
    received: u64,
    /// Where the bytes go; `None` once it failed.
    sink: Option<&'a mut W>,
    sink_error: Option<std::io::Error>,
}

pub(super) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A blob read to its end and verified.
#[derive(Debug)]
pub struct BlobPulled {
    /// Bytes in the blob.
    pub size: u64,
    /// Why the sink stopped taking bytes, if it did (the blob was still read and verified).
    pub sink_error: Option<std::io::Error>,
}
