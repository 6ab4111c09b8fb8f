//! Tests of the WASI functions with a plain `Vec<u8>` as guest memory.

mod calls;
mod confinement;
mod fuzz;
mod limits;
mod paths;

use veracruz_policy::{CapPath, CapabilityMap};
use veracruz_vfs::{Handle, Vfs};

use crate::types::{errno, lookupflags, rights};
use crate::{HostError, WasiConfig, WasiCtx};

pub(crate) const MEM_SIZE: usize = 1 << 20;
const HEAP_START: u32 = 0x1000;

pub(crate) const NOTCAPABLE: i32 = errno::NOTCAPABLE as i32;

pub(crate) fn map(entries: &[(&str, &str)]) -> CapabilityMap {
    CapabilityMap::from_entries(
        entries
            .iter()
            .map(|(p, r)| (CapPath::parse(p).unwrap(), r.parse().unwrap())),
    )
}

/// Everything-allowed handle for setting up the VFS as a data provider would.
pub(crate) fn admin(vfs: &Vfs) -> Handle {
    vfs.handle(map(&[("/", "rwa"), ("stdin", "rw"), ("stdout", "rw")]))
}

/// A guest: a WASI context plus its linear memory and a bump allocator.
pub(crate) struct Guest {
    pub ctx: WasiCtx,
    pub mem: Vec<u8>,
    top: u32,
}

/// What `path_filestat_get` / `fd_filestat_get` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// A decoded directory entry: name, `d_next` cookie, `d_type`.
pub(crate) type Dirent = (String, u64, u8);

#[derive(Clone, Copy)]
pub(crate) enum Mode {
    Read,
    Write,
    ReadWrite,
}

impl Guest {
    pub fn new(entries: &[(&str, &str)]) -> Guest {
        Guest::with(Vfs::default(), entries, WasiConfig::default())
    }

    pub fn with(vfs: Vfs, entries: &[(&str, &str)], config: WasiConfig) -> Guest {
        let ctx = WasiCtx::new(config, vfs.handle(map(entries))).unwrap();
        Guest {
            ctx,
            mem: vec![0; MEM_SIZE],
            top: HEAP_START,
        }
    }

    /// Copies bytes into guest memory; returns their address.
    pub fn put(&mut self, data: &[u8]) -> i32 {
        let at = self.top;
        self.mem[at as usize..at as usize + data.len()].copy_from_slice(data);
        self.top = (at + data.len() as u32 + 7) & !7;
        assert!((self.top as usize) < MEM_SIZE, "test heap exhausted");
        at as i32
    }

    /// Reserves zeroed bytes; returns their address.
    pub fn out(&mut self, n: usize) -> i32 {
        self.put(&vec![0; n])
    }

    pub fn str(&mut self, s: &str) -> (i32, i32) {
        (self.put(s.as_bytes()), s.len() as i32)
    }

    pub fn u32_at(&self, p: i32) -> u32 {
        let p = p as usize;
        u32::from_le_bytes(self.mem[p..p + 4].try_into().unwrap())
    }

    pub fn u64_at(&self, p: i32) -> u64 {
        let p = p as usize;
        u64::from_le_bytes(self.mem[p..p + 8].try_into().unwrap())
    }

    pub fn bytes_at(&self, p: i32, n: usize) -> &[u8] {
        &self.mem[p as usize..p as usize + n]
    }

    /// The descriptor of a pre-opened directory.
    pub fn preopen(&self, name: &str) -> i32 {
        self.ctx
            .preopens()
            .into_iter()
            .find(|(_, n)| n == name)
            .unwrap_or_else(|| panic!("{name} is not pre-opened: {:?}", self.ctx.preopens()))
            .0 as i32
    }

    pub fn fdstat(&mut self, fd: i32) -> Result<(u8, u16, u64, u64), i32> {
        let out = self.out(24);
        let e = self.ctx.fd_fdstat_get(&mut self.mem, fd, out).unwrap();
        if e != 0 {
            return Err(e);
        }
        let flags = u16::from_le_bytes([self.mem[out as usize + 2], self.mem[out as usize + 3]]);
        Ok((
            self.mem[out as usize],
            flags,
            self.u64_at(out + 8),
            self.u64_at(out + 16),
        ))
    }

    /// Opens as wasi-libc's `openat` does: ask for every right except those contradicting the
    /// access mode, masked by the directory's inheriting rights.
    pub fn open_libc(
        &mut self,
        dir: i32,
        path: &str,
        oflags: u16,
        mode: Mode,
        fdflags: u16,
    ) -> Result<i32, i32> {
        let rw = rights::FD_DATASYNC
            | rights::FD_READ
            | rights::FD_WRITE
            | rights::FD_ALLOCATE
            | rights::FD_READDIR
            | rights::FD_FILESTAT_SET_SIZE;
        let mut max = !rw;
        if matches!(mode, Mode::Read | Mode::ReadWrite) {
            max |= rights::FD_READ | rights::FD_READDIR;
        }
        if matches!(mode, Mode::Write | Mode::ReadWrite) {
            max |= rights::FD_DATASYNC
                | rights::FD_WRITE
                | rights::FD_ALLOCATE
                | rights::FD_FILESTAT_SET_SIZE;
        }
        let inheriting = match self.fdstat(dir) {
            Ok((_, _, _, inh)) => inh,
            Err(e) => return Err(e),
        };
        self.open_raw(
            dir,
            lookupflags::SYMLINK_FOLLOW as i32,
            path,
            oflags,
            max & inheriting,
            inheriting,
            fdflags,
        )
    }

    pub fn open(&mut self, dir: i32, path: &str, oflags: u16, mode: Mode) -> Result<i32, i32> {
        self.open_libc(dir, path, oflags, mode, 0)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn open_raw(
        &mut self,
        dir: i32,
        dirflags: i32,
        path: &str,
        oflags: u16,
        base: u64,
        inheriting: u64,
        fdflags: u16,
    ) -> Result<i32, i32> {
        let (p, l) = self.str(path);
        let out = self.out(4);
        let e = self
            .ctx
            .path_open(
                &mut self.mem,
                dir,
                dirflags,
                p,
                l,
                i32::from(oflags),
                base as i64,
                inheriting as i64,
                i32::from(fdflags),
                out,
            )
            .unwrap();
        if e == 0 {
            Ok(self.u32_at(out) as i32)
        } else {
            Err(e)
        }
    }

    fn iov(&mut self, buf: i32, len: usize) -> i32 {
        let mut v = Vec::new();
        v.extend_from_slice(&(buf as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        self.put(&v)
    }

    pub fn write(&mut self, fd: i32, data: &[u8]) -> Result<u32, i32> {
        let buf = self.put(data);
        let iov = self.iov(buf, data.len());
        let out = self.out(4);
        match self.ctx.fd_write(&mut self.mem, fd, iov, 1, out).unwrap() {
            0 => Ok(self.u32_at(out)),
            e => Err(e),
        }
    }

    pub fn try_write(&mut self, fd: i32, data: &[u8]) -> Result<i32, HostError> {
        let buf = self.put(data);
        let iov = self.iov(buf, data.len());
        let out = self.out(4);
        self.ctx.fd_write(&mut self.mem, fd, iov, 1, out)
    }

    pub fn pwrite(&mut self, fd: i32, data: &[u8], offset: u64) -> Result<u32, i32> {
        let buf = self.put(data);
        let iov = self.iov(buf, data.len());
        let out = self.out(4);
        match self
            .ctx
            .fd_pwrite(&mut self.mem, fd, iov, 1, offset as i64, out)
            .unwrap()
        {
            0 => Ok(self.u32_at(out)),
            e => Err(e),
        }
    }

    pub fn read(&mut self, fd: i32, n: usize) -> Result<Vec<u8>, i32> {
        let buf = self.out(n);
        let iov = self.iov(buf, n);
        let out = self.out(4);
        match self.ctx.fd_read(&mut self.mem, fd, iov, 1, out).unwrap() {
            0 => {
                let got = self.u32_at(out) as usize;
                Ok(self.bytes_at(buf, got).to_vec())
            }
            e => Err(e),
        }
    }

    pub fn pread(&mut self, fd: i32, n: usize, offset: u64) -> Result<Vec<u8>, i32> {
        let buf = self.out(n);
        let iov = self.iov(buf, n);
        let out = self.out(4);
        match self
            .ctx
            .fd_pread(&mut self.mem, fd, iov, 1, offset as i64, out)
            .unwrap()
        {
            0 => {
                let got = self.u32_at(out) as usize;
                Ok(self.bytes_at(buf, got).to_vec())
            }
            e => Err(e),
        }
    }

    /// Opens, reads everything, closes.
    pub fn read_file(&mut self, dir: i32, path: &str) -> Result<Vec<u8>, i32> {
        let fd = self.open(dir, path, 0, Mode::Read)?;
        let data = self.read(fd, 1 << 16);
        self.close(fd);
        data
    }

    /// Creates or truncates, writes, closes.
    pub fn write_file(&mut self, dir: i32, path: &str, data: &[u8]) -> Result<(), i32> {
        let fd = self.open(
            dir,
            path,
            crate::types::oflags::CREAT | crate::types::oflags::TRUNC,
            Mode::Write,
        )?;
        let r = self.write(fd, data).map(|_| ());
        self.close(fd);
        r
    }

    pub fn close(&mut self, fd: i32) -> i32 {
        self.ctx.fd_close(&mut self.mem, fd).unwrap()
    }

    pub fn seek(&mut self, fd: i32, offset: i64, whence: u8) -> Result<u64, i32> {
        let out = self.out(8);
        match self
            .ctx
            .fd_seek(&mut self.mem, fd, offset, i32::from(whence), out)
            .unwrap()
        {
            0 => Ok(self.u64_at(out)),
            e => Err(e),
        }
    }

    fn decode_stat(&self, out: i32) -> Stat {
        Stat {
            ino: self.u64_at(out + 8),
            filetype: self.mem[out as usize + 16],
            nlink: self.u64_at(out + 24),
            size: self.u64_at(out + 32),
            atim: self.u64_at(out + 40),
            mtim: self.u64_at(out + 48),
            ctim: self.u64_at(out + 56),
        }
    }

    pub fn stat(&mut self, dir: i32, path: &str, follow: bool) -> Result<Stat, i32> {
        let (p, l) = self.str(path);
        let out = self.out(64);
        match self
            .ctx
            .path_filestat_get(&mut self.mem, dir, i32::from(follow), p, l, out)
            .unwrap()
        {
            0 => Ok(self.decode_stat(out)),
            e => Err(e),
        }
    }

    pub fn fstat(&mut self, fd: i32) -> Result<Stat, i32> {
        let out = self.out(64);
        match self.ctx.fd_filestat_get(&mut self.mem, fd, out).unwrap() {
            0 => Ok(self.decode_stat(out)),
            e => Err(e),
        }
    }

    pub fn mkdir(&mut self, dir: i32, path: &str) -> i32 {
        let (p, l) = self.str(path);
        self.ctx
            .path_create_directory(&mut self.mem, dir, p, l)
            .unwrap()
    }

    pub fn rmdir(&mut self, dir: i32, path: &str) -> i32 {
        let (p, l) = self.str(path);
        self.ctx
            .path_remove_directory(&mut self.mem, dir, p, l)
            .unwrap()
    }

    pub fn unlink(&mut self, dir: i32, path: &str) -> i32 {
        let (p, l) = self.str(path);
        self.ctx.path_unlink_file(&mut self.mem, dir, p, l).unwrap()
    }

    pub fn rename(&mut self, dir: i32, from: &str, to_dir: i32, to: &str) -> i32 {
        let (p1, l1) = self.str(from);
        let (p2, l2) = self.str(to);
        self.ctx
            .path_rename(&mut self.mem, dir, p1, l1, to_dir, p2, l2)
            .unwrap()
    }

    pub fn link(&mut self, dir: i32, from: &str, to_dir: i32, to: &str, follow: bool) -> i32 {
        let (p1, l1) = self.str(from);
        let (p2, l2) = self.str(to);
        self.ctx
            .path_link(
                &mut self.mem,
                dir,
                i32::from(follow),
                p1,
                l1,
                to_dir,
                p2,
                l2,
            )
            .unwrap()
    }

    pub fn symlink(&mut self, target: &str, dir: i32, path: &str) -> i32 {
        let (p1, l1) = self.str(target);
        let (p2, l2) = self.str(path);
        self.ctx
            .path_symlink(&mut self.mem, p1, l1, dir, p2, l2)
            .unwrap()
    }

    pub fn readlink(&mut self, dir: i32, path: &str, cap: usize) -> Result<Vec<u8>, i32> {
        let (p, l) = self.str(path);
        let buf = self.out(cap.max(1));
        let used = self.out(4);
        match self
            .ctx
            .path_readlink(&mut self.mem, dir, p, l, buf, cap as i32, used)
            .unwrap()
        {
            0 => {
                let n = self.u32_at(used) as usize;
                Ok(self.bytes_at(buf, n).to_vec())
            }
            e => Err(e),
        }
    }

    /// Reads directory entries from `cookie` with a buffer of `cap` bytes; returns
    /// (name, d_next, d_type) of each complete entry and the bytes used.
    pub fn readdir(
        &mut self,
        fd: i32,
        cookie: u64,
        cap: usize,
    ) -> Result<(Vec<Dirent>, usize), i32> {
        let buf = self.out(cap.max(1));
        let used = self.out(4);
        let e = self
            .ctx
            .fd_readdir(&mut self.mem, fd, buf, cap as i32, cookie as i64, used)
            .unwrap();
        if e != 0 {
            return Err(e);
        }
        let used = self.u32_at(used) as usize;
        let mut out = Vec::new();
        let mut at = 0;
        while at + 24 <= used {
            let next = self.u64_at(buf + at as i32);
            let namlen = self.u32_at(buf + at as i32 + 16) as usize;
            let ty = self.mem[buf as usize + at + 20];
            if at + 24 + namlen > used {
                break;
            }
            let name =
                String::from_utf8(self.bytes_at(buf + at as i32 + 24, namlen).to_vec()).unwrap();
            out.push((name, next, ty));
            at += 24 + namlen;
        }
        Ok((out, used))
    }

    /// All entry names of a directory, read with a small buffer to exercise cookies.
    pub fn list(&mut self, fd: i32) -> Result<Vec<String>, i32> {
        let mut names = Vec::new();
        let mut cookie = 0;
        loop {
            let (entries, used) = self.readdir(fd, cookie, 64)?;
            if entries.is_empty() && used < 64 {
                return Ok(names);
            }
            for (name, next, _) in &entries {
                names.push(name.clone());
                cookie = *next;
            }
            if used < 64 {
                return Ok(names);
            }
            if entries.is_empty() {
                // One entry larger than the buffer: read it with a bigger one.
                let (big, _) = self.readdir(fd, cookie, 4096)?;
                let (name, next, _) = big.first().cloned().unwrap();
                names.push(name);
                cookie = next;
            }
        }
    }
}
