//! Read-only mounts for steps that run on the host, as a pod's `readOnly` workspaces and volume
//! mounts are: the step process gets a mount namespace of its own (and, when stepkit is not
//! root, a user namespace that maps only its own user and group), in which each read-only
//! mount's files are bound, read-only, onto the empty directory that stands for them. A write
//! there fails with EROFS, as in a pod; nothing changes for any other process, and the files
//! stay writable through every other path (another workspace bound to the same claim, as in
//! Tekton's own example).
//!
//! Written with `unshare(2)` and `mount(2)` directly: the crates that wrap them (nix, rustix)
//! would be a second dependency for six system calls.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;

use anyhow::Context as _;
use tokio::process::Command;

use super::runtime::Mount;

/// What the child does between fork and exec, prepared beforehand (no allocation there).
struct Binds {
    /// (source, target, flags of the source's file system that a remount must keep).
    binds: Vec<(CString, CString, libc::c_ulong)>,
    /// For a user namespace: the uid and gid maps, and whether one is needed at all.
    user: Option<(CString, CString)>,
    /// The working directory, entered again once the mounts are made (the one entered before
    /// may be under one of them).
    cwd: CString,
}

/// Makes `command` bind each of `mounts` read-only in a mount namespace of its own, then start
/// in `cwd`.
pub fn bind_read_only(
    command: &mut Command,
    mounts: &[&Mount],
    cwd: &std::path::Path,
) -> anyhow::Result<()> {
    let mut binds = Vec::new();
    for mount in mounts {
        std::fs::create_dir_all(&mount.host_path)
            .with_context(|| format!("creating {}", mount.host_path.display()))?;
        let source = c_path(&mount.source)?;
        let target = c_path(&mount.host_path)?;
        binds.push((source.clone(), target, kept_flags(&source)));
    }
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let user = (uid != 0).then(|| {
        (
            CString::new(format!("{uid} {uid} 1")).unwrap_or_default(),
            CString::new(format!("{gid} {gid} 1")).unwrap_or_default(),
        )
    });
    let plan = Binds {
        binds,
        user,
        cwd: c_path(cwd)?,
    };
    // SAFETY: the closure only makes system calls on data prepared above; it allocates
    // nothing and takes no lock, as code between fork and exec must.
    unsafe {
        command.pre_exec(move || enter(&plan));
    }
    Ok(())
}

fn c_path(path: &std::path::Path) -> anyhow::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("{} has a NUL byte", path.display()))
}

/// The flags of the file system under `path` that a bind remount in a user namespace must
/// repeat (the kernel refuses to drop them there).
fn kept_flags(path: &CString) -> libc::c_ulong {
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return 0;
    }
    let pairs = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| stat.f_flag & st != 0)
        .fold(0, |flags, (_, ms)| flags | ms)
}

/// In the child: a mount namespace (and user namespace) of its own, then the read-only binds.
fn enter(plan: &Binds) -> std::io::Result<()> {
    let check = |result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: plain system calls with NUL-terminated strings prepared before the fork.
    unsafe {
        match &plan.user {
            None => check(libc::unshare(libc::CLONE_NEWNS))?,
            Some((uid_map, gid_map)) => {
                check(libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUSER))?;
                write_file(c"/proc/self/setgroups", b"deny")?;
                write_file(c"/proc/self/uid_map", uid_map.as_bytes())?;
                write_file(c"/proc/self/gid_map", gid_map.as_bytes())?;
            }
        }
        // Nothing done here may reach the machine's own mount table.
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for (source, target, kept) in &plan.binds {
            check(libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | kept,
                std::ptr::null(),
            ))?;
        }
        check(libc::chdir(plan.cwd.as_ptr()))?;
    }
    Ok(())
}

/// open, write, close: all that a forked child may do to write a file.
unsafe fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> std::io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    let error = std::io::Error::last_os_error();
    libc::close(fd);
    if written != bytes.len() as isize {
        return Err(error);
    }
    Ok(())
}
