//! The compressors between the tar stream and the blob: zstd, and gzip on all cores.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{Compression, GZIP_BLOCK, GZIP_DICTIONARY, GZIP_HEADER, GZIP_LEVEL, ZSTD_JOB_SIZE};

/// Bytes deflated from each of three places in a gzip block to judge whether it compresses.
const INCOMPRESSIBLE_SAMPLE: usize = 4 * 1024;

/// The compressor between the tar stream and the blob file.
pub(super) enum Compressor<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Gzip(ParallelGzip<W>),
}

impl<W: Write> Compressor<W> {
    pub(super) fn new(out: W, compression: Compression, workers: u32) -> io::Result<Self> {
        Ok(match compression {
            Compression::Zstd { level } => {
                let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
                // Always multithreaded, even with one worker: zstd's MT output is the same for
                // any worker count but differs from its single-threaded output.
                encoder.multithread(workers.max(1))?;
                // Smaller jobs than zstd's default (4× the window, rounded up) keep each worker's
                // in-flight buffers small, so a push stays within a pod's usual memory limits.
                encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                encoder.include_checksum(true)?;
                Compressor::Zstd(encoder)
            }
            Compression::Gzip => Compressor::Gzip(ParallelGzip::new(out, workers.max(1) as usize)?),
        })
    }

    pub(super) fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Zstd(encoder) => encoder.finish(),
            Compressor::Gzip(gzip) => gzip.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Zstd(encoder) => encoder.write(buf),
            Compressor::Gzip(gzip) => gzip.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing a compressor mid-stream would change its output; the data is complete
        // only after `finish`.
        Ok(())
    }
}

pub(super) type GzipBlockResult = io::Result<(Vec<u8>, flate2::Crc)>;

pub(super) struct GzipJob {
    pub(super) data: Vec<u8>,
    pub(super) dictionary: Option<Arc<[u8]>>,
    pub(super) last: bool,
    pub(super) reply: SyncSender<GzipBlockResult>,
}

/// gzip on several threads into one standard gzip member, the way pigz does it: the input is
/// cut into fixed 256 KiB blocks, each deflated on a worker with the 32 KiB before it as its
/// dictionary and ended with a sync flush (the last one with the final block), then written in
/// order with the CRCs combined. Every block starts from a fresh deflate state, so the bytes do
/// not depend on which worker compressed what. At most `2 × workers + 1` blocks are in flight.
pub(super) struct ParallelGzip<W: Write> {
    /// Taken by `finish`.
    pub(super) out: Option<W>,
    pub(super) block: Vec<u8>,
    pub(super) dictionary: Option<Arc<[u8]>>,
    pub(super) jobs: Option<SyncSender<GzipJob>>,
    pub(super) pending: VecDeque<Receiver<GzipBlockResult>>,
    pub(super) max_pending: usize,
    pub(super) workers: Vec<JoinHandle<()>>,
    pub(super) crc: flate2::Crc,
}

impl<W: Write> ParallelGzip<W> {
    pub(super) fn new(mut out: W, workers: usize) -> io::Result<Self> {
        out.write_all(&GZIP_HEADER)?;
        let (jobs, queue) = sync_channel::<GzipJob>(workers * 2);
        let queue = Arc::new(Mutex::new(queue));
        let max_pending = 2 * workers + 1;
        let workers = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || loop {
                    let job = {
                        let queue = queue
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        queue.recv()
                    };
                    let Ok(job) = job else { return };
                    let mut crc = flate2::Crc::new();
                    crc.update(&job.data);
                    let deflated = deflate_block(&job.data, job.dictionary.as_deref(), job.last);
                    // The receiver is gone only when the writer gave up; nothing to report then.
                    let _ = job.reply.send(deflated.map(|bytes| (bytes, crc)));
                })
            })
            .collect();
        Ok(ParallelGzip {
            out: Some(out),
            block: Vec::with_capacity(GZIP_BLOCK),
            dictionary: None,
            jobs: Some(jobs),
            pending: VecDeque::new(),
            max_pending,
            workers,
            crc: flate2::Crc::new(),
        })
    }

    pub(super) fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(GZIP_BLOCK));
        let next_dictionary = (data.len() >= GZIP_DICTIONARY)
            .then(|| Arc::from(&data[data.len() - GZIP_DICTIONARY..]));
        let dictionary = std::mem::replace(&mut self.dictionary, next_dictionary);
        let (reply, result) = sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(gzip_workers_gone)?;
        jobs.send(GzipJob {
            data,
            dictionary,
            last,
            reply,
        })
        .map_err(|_| gzip_workers_gone())?;
        self.pending.push_back(result);
        while self.pending.len() >= self.max_pending {
            self.write_next()?;
        }
        Ok(())
    }

    pub(super) fn write_next(&mut self) -> io::Result<()> {
        let Some(result) = self.pending.pop_front() else {
            return Ok(());
        };
        let (bytes, crc) = result.recv().map_err(|_| gzip_workers_gone())??;
        self.crc.combine(&crc);
        self.out
            .as_mut()
            .ok_or_else(gzip_workers_gone)?
            .write_all(&bytes)
    }

    pub(super) fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.write_next()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        let mut out = self.out.take().ok_or_else(gzip_workers_gone)?;
        out.write_all(&trailer)?;
        out.flush()?;
        self.stop_workers();
        Ok(out)
    }

    pub(super) fn stop_workers(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

pub(super) fn gzip_workers_gone() -> io::Error {
    io::Error::other("a gzip compression worker stopped unexpectedly")
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let total = buf.len();
        while !buf.is_empty() {
            let take = (GZIP_BLOCK - self.block.len()).min(buf.len());
            self.block.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.block.len() == GZIP_BLOCK {
                self.submit(false)?;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

/// Raw deflate of one block, primed with `dictionary`, ended with a sync flush (byte aligned,
/// not final) or, for the last block, with the final deflate block.
pub(super) fn deflate_block(
    input: &[u8],
    dictionary: Option<&[u8]>,
    last: bool,
) -> io::Result<Vec<u8>> {
    use flate2::{Compress, FlushCompress, Status};
    // A fresh state per block: zlib-rs' `reset` keeps enough history that reusing one
    // compressor made the output depend on which worker handled which block.
    let mut deflate = if looks_incompressible(input) {
        // Stored blocks: searching random bytes for matches is deflate's slowest work and
        // gains nothing.
        Compress::new(flate2::Compression::none(), false)
    } else {
        let mut deflate = Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
        if let Some(dictionary) = dictionary {
            deflate
                .set_dictionary(dictionary)
                .map_err(io::Error::other)?;
        }
        deflate
    };
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 1024);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
        let status = deflate
            .compress_vec(&input[consumed.min(input.len())..], &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
        // A flush is complete once all input is in and the output was not filled up.
        let done = match status {
            Status::StreamEnd => true,
            _ => !last && consumed >= input.len() && out.len() < out.capacity(),
        };
        if done {
            return Ok(out);
        }
    }
}

/// Whether a block is already compressed or random, judged by deflating samples from its
/// start, middle and end at the fastest level: only when none of them shrinks is the block
/// stored, so a block with anything compressible in the samples is still deflated. It depends
/// on the bytes alone, so the output stays reproducible.
fn looks_incompressible(block: &[u8]) -> bool {
    if block.len() < GZIP_DICTIONARY {
        return false;
    }
    let samples = [
        0,
        block.len() / 2 - INCOMPRESSIBLE_SAMPLE / 2,
        block.len() - INCOMPRESSIBLE_SAMPLE,
    ];
    samples.into_iter().all(|start| {
        let sample = &block[start..start + INCOMPRESSIBLE_SAMPLE];
        let mut deflate = flate2::Compress::new(flate2::Compression::fast(), false);
        let mut out = Vec::with_capacity(INCOMPRESSIBLE_SAMPLE + 1024);
        let deflated = deflate.compress_vec(sample, &mut out, flate2::FlushCompress::Finish);
        // Shrinking by under 1/64 is what random bytes do: deflate's own block headers.
        deflated.is_ok() && out.len() >= INCOMPRESSIBLE_SAMPLE - INCOMPRESSIBLE_SAMPLE / 64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn random_blocks_are_stored_and_compressible_ones_still_deflated() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..GZIP_BLOCK * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let text = b"fn main() { println!(\"hello\"); }\n".repeat(GZIP_BLOCK * 2 / 34);
        assert!(looks_incompressible(&noise[..GZIP_BLOCK]));
        assert!(!looks_incompressible(&text[..GZIP_BLOCK]));
        // Noise with text in the middle of the block is not judged by its ends alone.
        let mut mixed = noise[..GZIP_BLOCK].to_vec();
        mixed[GZIP_BLOCK / 2 - 8192..GZIP_BLOCK / 2 + 8192].copy_from_slice(&text[..16384]);
        assert!(!looks_incompressible(&mixed));

        let input = [&noise[..], &text[..]].concat();
        let mut gzip = ParallelGzip::new(Vec::new(), 2).unwrap();
        gzip.write_all(&input).unwrap();
        let bytes = gzip.finish().unwrap();
        // Stored noise costs 5 bytes per 64 KiB; the text still shrinks fiftyfold.
        assert!(
            bytes.len() < noise.len() + text.len() / 50,
            "{}",
            bytes.len()
        );
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert!(
            decoded == input,
            "the stored and deflated blocks decode to the input"
        );
    }

    #[test]
    fn parallel_gzip_is_one_standard_member_independent_of_worker_count() {
        let mut input = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for index in 0..(GZIP_BLOCK * 5 + 777) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Half text-like, half noise, so blocks reference their dictionary.
            input.push(if index % 2 == 0 {
                b"abcdefgh"[(state % 8) as usize]
            } else {
                state as u8
            });
        }
        let compress = |workers: usize, chunk: usize| {
            let mut gzip = ParallelGzip::new(Vec::new(), workers).unwrap();
            for piece in input.chunks(chunk) {
                gzip.write_all(piece).unwrap();
            }
            gzip.finish().unwrap()
        };
        let reference = compress(1, 4096);
        for (workers, chunk) in [(2, 1000), (3, GZIP_BLOCK), (8, 1 << 20)] {
            assert_eq!(compress(workers, chunk), reference, "{workers} workers");
        }
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&reference[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, input);
        // Empty input and an exact multiple of the block size end cleanly too.
        for size in [0, GZIP_BLOCK, 2 * GZIP_BLOCK] {
            let mut gzip = ParallelGzip::new(Vec::new(), 2).unwrap();
            gzip.write_all(&input[..size]).unwrap();
            let bytes = gzip.finish().unwrap();
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut decoded)
                .unwrap();
            assert_eq!(decoded, &input[..size]);
        }
    }
}
