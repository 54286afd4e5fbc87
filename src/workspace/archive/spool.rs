//! [`Spool`]: the blob file of a pack, read while it is written, so an upload can send each part
//! as soon as the compressor has produced it instead of waiting for the whole archive.
//!
//! The file stays the only copy: the reader takes parts from it at their offsets, so memory is
//! one part whatever the blob's size and however slow the network is, and an upload that fails
//! half way can start again from the finished file.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::Stream;

/// The shared record of how far the blob file has been written.
#[derive(Default)]
pub struct Spool {
    state: Mutex<SpoolState>,
    grown: tokio::sync::Notify,
}

#[derive(Default)]
struct SpoolState {
    /// A handle on the blob file for positional reads, once the pack has created it.
    file: Option<Arc<File>>,
    /// Bytes in the file (written through, not buffered).
    written: u64,
    /// Set once: `Ok` when the blob is complete, the reason when the pack gave up.
    end: Option<Result<(), String>>,
}

impl Spool {
    pub fn new() -> Arc<Spool> {
        Arc::default()
    }

    /// Ends the spool if its writer never did (the pack failed or skipped the source before it
    /// created the file), so a reader waiting for more stops with `reason`.
    pub fn abandon(&self, reason: &str) {
        self.update(|state| {
            state.end.get_or_insert_with(|| Err(reason.to_owned()));
        });
    }

    /// The blob's bytes in parts of `part` bytes (the last one shorter), each yielded once it is
    /// in the file; ends when the blob is complete, fails when the pack gave up.
    pub fn parts(self: Arc<Self>, part: usize) -> impl Stream<Item = io::Result<bytes::Bytes>> {
        futures_util::stream::try_unfold((self, 0u64), move |(spool, offset)| async move {
            loop {
                let (file, available, end) = {
                    let state = spool.lock();
                    (
                        state.file.clone(),
                        state.written - offset,
                        state.end.clone(),
                    )
                };
                let ready = available >= part as u64 || (available > 0 && end.is_some());
                if let (true, Some(file)) = (ready, file) {
                    let len = available.min(part as u64) as usize;
                    let read = tokio::task::spawn_blocking(move || {
                        let mut buffer = vec![0; len];
                        file.read_exact_at(&mut buffer, offset).map(|()| buffer)
                    });
                    let buffer = read.await.map_err(io::Error::other)??;
                    return Ok(Some((buffer.into(), (spool, offset + len as u64))));
                }
                match end {
                    Some(Ok(())) => return Ok(None),
                    Some(Err(reason)) => return Err(io::Error::other(reason)),
                    // A permit is stored when the writer notifies first, so no growth is missed.
                    None => spool.grown.notified().await,
                }
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, SpoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut SpoolState)) {
        change(&mut self.lock());
        self.grown.notify_one();
    }
}

/// The pack's writer of the blob file, telling the [`Spool`] how far it got.
pub(super) struct SpoolWriter {
    file: File,
    spool: Option<Arc<Spool>>,
}

impl SpoolWriter {
    pub(super) fn new(file: File, spool: Option<Arc<Spool>>) -> io::Result<SpoolWriter> {
        if let Some(spool) = &spool {
            let reader = Arc::new(file.try_clone()?);
            spool.update(|state| state.file = Some(reader));
        }
        Ok(SpoolWriter { file, spool })
    }

    /// The blob is complete: a reader gets its last part and the end.
    pub(super) fn finish(mut self) {
        if let Some(spool) = self.spool.take() {
            spool.update(|state| {
                state.end.get_or_insert(Ok(()));
            });
        }
    }
}

impl Write for SpoolWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        if let Some(spool) = &self.spool {
            spool.update(|state| state.written += written as u64);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if let Some(spool) = self.spool.take() {
            spool.abandon("the archive was not finished");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_gets_every_byte_in_order_while_the_file_grows() {
        let file = tempfile::tempfile().unwrap();
        let spool = Spool::new();
        let reader = tokio::spawn(Arc::clone(&spool).parts(1000).try_collect::<Vec<_>>());
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut writer = SpoolWriter::new(file, Some(Arc::clone(&spool))).unwrap();
        for piece in data.chunks(333) {
            writer.write_all(piece).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        writer.finish();
        let parts = reader.await.unwrap().unwrap();
        assert!(parts[..parts.len() - 1]
            .iter()
            .all(|part| part.len() == 1000));
        assert_eq!(parts.concat(), data);
    }

    #[tokio::test]
    async fn a_writer_that_gives_up_or_never_starts_ends_the_reader_with_an_error() {
        let spool = Spool::new();
        let mut writer =
            SpoolWriter::new(tempfile::tempfile().unwrap(), Some(Arc::clone(&spool))).unwrap();
        writer.write_all(b"half an archive").unwrap();
        drop(writer);
        let error = Arc::clone(&spool)
            .parts(4)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("not finished"), "{error}");

        let never_written = Spool::new();
        never_written.abandon("the source was skipped");
        let error = never_written
            .parts(4)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "the source was skipped");
    }
}
