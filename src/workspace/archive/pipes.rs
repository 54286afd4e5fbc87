//! Plumbing between the stages of a pack or an unpack: writes and reads on threads of their
//! own, a few buffers ahead, hashing and progress on the way.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::core::progress::Transfer;

use super::IO_BUFFER;

/// A writer whose writes happen on a thread of its own, a few buffers behind.
pub(super) struct WriteBehind<W> {
    pub(super) chunks: Option<SyncSender<Vec<u8>>>,
    pub(super) worker: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// Chunks queued: bounds the memory to this many buffers of what the caller writes.
    const DEPTH: usize = 4;

    pub(super) fn spawn(mut inner: W) -> WriteBehind<W> {
        let (sender, chunks) = sync_channel::<Vec<u8>>(Self::DEPTH);
        let worker = std::thread::spawn(move || {
            for chunk in chunks {
                inner.write_all(&chunk)?;
            }
            inner.flush()?;
            Ok(inner)
        });
        WriteBehind {
            chunks: Some(sender),
            worker: Some(worker),
        }
    }

    /// Waits for every write to land; returns the writer, or the first error it met.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.chunks = None;
        self.join()
    }

    pub(super) fn join(&mut self) -> io::Result<W> {
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the compressing thread panicked")),
            None => Err(io::Error::other("the compressing thread already stopped")),
        }
    }
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sent = match &self.chunks {
            Some(chunks) => chunks.send(buf.to_vec()).is_ok(),
            None => false,
        };
        if sent {
            return Ok(buf.len());
        }
        // The thread stopped taking chunks: it failed, and its error says why.
        self.chunks = None;
        match self.join() {
            Err(error) => Err(error),
            Ok(_) => Err(io::Error::other("the compressing thread stopped early")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that hashes and counts what passes through it, and optionally reports progress.
/// `H` is [`Sha256`], or `Option<Sha256>` for a digest only some callers want.
pub(super) struct Tee<W: Write, H: Digester = Sha256> {
    pub(super) inner: W,
    pub(super) hasher: H,
    pub(super) size: u64,
    pub(super) progress: Option<Transfer>,
}

/// The hash a [`Tee`] keeps of its bytes.
pub(super) trait Digester {
    type Digest;
    fn update(&mut self, bytes: &[u8]);
    /// `sha256:<hex>`.
    fn digest(self) -> Self::Digest;
}

impl Digester for Sha256 {
    type Digest = String;

    fn update(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }

    fn digest(self) -> String {
        format!("sha256:{:x}", self.finalize())
    }
}

impl Digester for Option<Sha256> {
    type Digest = Option<String>;

    fn update(&mut self, bytes: &[u8]) {
        if let Some(hasher) = self {
            Digest::update(hasher, bytes);
        }
    }

    fn digest(self) -> Option<String> {
        self.map(Digester::digest)
    }
}

impl<W: Write, H: Digester> Tee<W, H> {
    pub(super) fn new(inner: W, hasher: H, progress: Option<Transfer>) -> Self {
        Tee {
            inner,
            hasher,
            size: 0,
            progress,
        }
    }

    /// The inner writer, the digest of the bytes written, and their count.
    pub(super) fn finish(self) -> (W, H::Digest, u64) {
        if let Some(progress) = self.progress {
            progress.finish();
        }
        (self.inner, self.hasher.digest(), self.size)
    }
}

impl<W: Write, H: Digester> Write for Tee<W, H> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        if let Some(progress) = &mut self.progress {
            progress.inc(written as u64);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader whose source is read ahead on a scoped thread, a few buffers at a time.
pub(super) struct ReadAhead {
    pub(super) chunks: Receiver<io::Result<Vec<u8>>>,
    pub(super) current: Vec<u8>,
    pub(super) position: usize,
}

impl ReadAhead {
    /// Chunks read ahead: bounds the memory to this many [`IO_BUFFER`]s.
    const DEPTH: usize = 4;

    pub(super) fn spawn<'scope, R: Read + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        mut source: R,
    ) -> ReadAhead {
        let (sender, chunks) = sync_channel(Self::DEPTH);
        scope.spawn(move || loop {
            let mut chunk = vec![0; IO_BUFFER];
            let read = match source.read(&mut chunk) {
                Ok(0) => return,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return;
                }
            };
            chunk.truncate(read);
            // A reader that went away stopped reading: nothing more to do.
            if sender.send(Ok(chunk)).is_err() {
                return;
            }
        });
        ReadAhead {
            chunks,
            current: Vec::new(),
            position: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => {
                    self.current = chunk?;
                    self.position = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let count = buf.len().min(self.current.len() - self.position);
        buf[..count].copy_from_slice(&self.current[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

pub(super) struct ProgressReader<R: Read> {
    pub(super) inner: R,
    pub(super) transfer: Transfer,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.transfer.inc(read as u64);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_behind_keeps_order_and_reports_the_error_of_its_thread() {
        let mut behind = WriteBehind::spawn(Vec::new());
        for chunk in 0..100u8 {
            behind.write_all(&[chunk; 1000]).unwrap();
        }
        let written = behind.finish().unwrap();
        let expected: Vec<u8> = (0..100u8).flat_map(|chunk| [chunk; 1000]).collect();
        assert!(written == expected);

        /// Takes 10 bytes, then fails as a full disk does.
        #[derive(Debug)]
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 + buf.len() > 10 {
                    return Err(io::Error::other("no space left on the device"));
                }
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut behind = WriteBehind::spawn(Full(0));
        // Writes are queued: the failure surfaces on a later write or at the end, never lost.
        let failed = (0..100).find_map(|_| behind.write_all(&[0; 8]).err());
        let error = match failed {
            Some(error) => error,
            None => behind.finish().unwrap_err(),
        };
        assert!(error.to_string().contains("no space left"), "{error}");
    }
}
