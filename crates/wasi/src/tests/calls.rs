//! Success and error paths of the non-path functions.

use std::time::Duration;

use veracruz_vfs::Vfs;

use super::{admin, Guest, Mode, NOTCAPABLE};
use crate::types::{errno, eventrwflags, eventtype, fdflags, filetype, fstflags, oflags, rights};
use crate::{is_supported, HostError, ValKind, WasiConfig, FUNCTIONS};

const E: fn(u16) -> i32 = |e| i32::from(e);

fn rw_guest() -> Guest {
    Guest::new(&[
        ("/data/", "rw"),
        ("stdin", "r"),
        ("stdout", "w"),
        ("stderr", "a"),
    ])
}

#[test]
fn function_table_lists_every_preview1_function() {
    assert_eq!(FUNCTIONS.len(), 46);
    let mut names: Vec<_> = FUNCTIONS.iter().map(|f| f.0).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 46, "no duplicates");
    let sig = |n: &str| FUNCTIONS.iter().find(|f| f.0 == n).unwrap();
    use ValKind::{I32, I64};
    assert_eq!(sig("fd_write").1, &[I32, I32, I32, I32]);
    assert_eq!(
        sig("path_open").1,
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32]
    );
    assert_eq!(sig("clock_time_get").1, &[I32, I64, I32]);
    assert_eq!(sig("fd_seek").1, &[I32, I64, I32, I32]);
    assert_eq!(sig("proc_exit").2, &[] as &[ValKind]);
    assert_eq!(sig("sched_yield").1, &[] as &[ValKind]);
    assert!(FUNCTIONS
        .iter()
        .filter(|f| f.0 != "proc_exit")
        .all(|f| f.2 == [I32]));
    assert!(is_supported("wasi_snapshot_preview1", "fd_readdir"));
    assert!(!is_supported("wasi_snapshot_preview1", "fd_bogus"));
    assert!(!is_supported("wasi_unstable", "fd_write"));
}

#[test]
fn dispatch_checks_names_and_arity() {
    let mut g = rw_guest();
    assert!(matches!(
        g.ctx.dispatch(&mut g.mem, "nope", &[]),
        Err(HostError::Trap(m)) if m.contains("nope")
    ));
    assert!(matches!(
        g.ctx.dispatch(&mut g.mem, "fd_close", &[]),
        Err(HostError::Trap(_))
    ));
    assert_eq!(g.ctx.dispatch(&mut g.mem, "sched_yield", &[]).unwrap(), 0);
    assert_eq!(
        g.ctx.dispatch(&mut g.mem, "fd_close", &[99]).unwrap(),
        E(errno::BADF)
    );
}

#[test]
fn args_and_environ() {
    let config = WasiConfig {
        args: vec!["prog.wasm".into(), "a b".into(), "".into()],
        env: vec![("K".into(), "V".into()), ("EMPTY".into(), "".into())],
        ..WasiConfig::default()
    };
    let mut g = Guest::with(Vfs::default(), &[], config);
    let (argc, size) = (g.out(4), g.out(4));
    assert_eq!(g.ctx.args_sizes_get(&mut g.mem, argc, size).unwrap(), 0);
    assert_eq!((g.u32_at(argc), g.u32_at(size)), (3, 10 + 4 + 1));
    let argv = g.out(12);
    let buf = g.out(15);
    assert_eq!(g.ctx.args_get(&mut g.mem, argv, buf).unwrap(), 0);
    assert_eq!(g.bytes_at(buf, 15), b"prog.wasm\0a b\0\0");
    assert_eq!(g.u32_at(argv + 4), buf as u32 + 10);
    assert_eq!(g.u32_at(argv + 8), buf as u32 + 14);

    let (count, size) = (g.out(4), g.out(4));
    assert_eq!(g.ctx.environ_sizes_get(&mut g.mem, count, size).unwrap(), 0);
    assert_eq!((g.u32_at(count), g.u32_at(size)), (2, 4 + 7));
    let env = g.out(8);
    let buf = g.out(11);
    assert_eq!(g.ctx.environ_get(&mut g.mem, env, buf).unwrap(), 0);
    assert_eq!(g.bytes_at(buf, 11), b"K=V\0EMPTY=\0");

    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.args_get(&mut g.mem, end - 4, buf).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.args_get(&mut g.mem, argv, end - 3).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.environ_get(&mut g.mem, -1, buf).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.args_sizes_get(&mut g.mem, argc, end).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.environ_sizes_get(&mut g.mem, end - 2, size).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn clocks_are_refused_unless_enabled() {
    let mut g = rw_guest();
    let out = g.out(8);
    for id in 0..4 {
        assert_eq!(
            g.ctx.clock_time_get(&mut g.mem, id, 1, out).unwrap(),
            E(errno::ACCES)
        );
        assert_eq!(
            g.ctx.clock_res_get(&mut g.mem, id, out).unwrap(),
            E(errno::ACCES)
        );
    }
    assert_eq!(
        g.ctx.clock_time_get(&mut g.mem, 9, 1, out).unwrap(),
        E(errno::INVAL)
    );

    let config = WasiConfig {
        enable_clock: true,
        ..WasiConfig::default()
    };
    let mut g = Guest::with(Vfs::default(), &[], config);
    let out = g.out(8);
    assert_eq!(g.ctx.clock_time_get(&mut g.mem, 0, 1, out).unwrap(), 0);
    let realtime = g.u64_at(out);
    assert!(realtime > 1_700_000_000_000_000_000, "{realtime}");
    assert_eq!(g.ctx.clock_time_get(&mut g.mem, 1, 1, out).unwrap(), 0);
    let t1 = g.u64_at(out);
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(g.ctx.clock_time_get(&mut g.mem, 1, 1, out).unwrap(), 0);
    assert!(g.u64_at(out) >= t1 + 2_000_000);
    assert_eq!(g.ctx.clock_time_get(&mut g.mem, 2, 1, out).unwrap(), 0);
    assert_eq!(g.ctx.clock_res_get(&mut g.mem, 1, out).unwrap(), 0);
    assert_eq!(g.u64_at(out), 1);
    assert_eq!(
        g.ctx.clock_res_get(&mut g.mem, 7, out).unwrap(),
        E(errno::INVAL)
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.clock_time_get(&mut g.mem, 0, 1, end - 7).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.clock_res_get(&mut g.mem, 0, end).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn streams_read_stdin_and_write_stdout_stderr() {
    let vfs = Vfs::default();
    admin(&vfs)
        .write_file("stdin", b"line one\nline two\n")
        .unwrap();
    let mut g = Guest::with(
        vfs.clone(),
        &[("stdin", "r"), ("stdout", "w"), ("stderr", "a")],
        WasiConfig::default(),
    );
    assert_eq!(g.read(0, 9).unwrap(), b"line one\n");
    assert_eq!(g.read(0, 100).unwrap(), b"line two\n");
    assert_eq!(g.read(0, 100).unwrap(), b"");
    assert_eq!(g.write(1, b"out").unwrap(), 3);
    assert_eq!(g.write(2, b"err").unwrap(), 3);
    assert_eq!(g.ctx.stdout(), b"out");
    assert_eq!(g.ctx.stderr(), b"err");
    assert_eq!(admin(&vfs).read_file("stdout").unwrap(), b"out");
    assert_eq!(
        g.write(0, b"x"),
        Err(NOTCAPABLE),
        "stdin has no write right"
    );
    assert_eq!(g.read(1, 1), Err(NOTCAPABLE), "stdout has no read right");
    assert_eq!(g.seek(1, 0, 0), Err(NOTCAPABLE));
    let out = g.out(8);
    assert_eq!(g.ctx.fd_tell(&mut g.mem, 0, out).unwrap(), NOTCAPABLE);
    let (ft, flags, base, _) = g.fdstat(1).unwrap();
    assert_eq!(ft, filetype::CHARACTER_DEVICE);
    assert_eq!(flags, fdflags::APPEND);
    assert!(base & rights::FD_WRITE != 0 && base & rights::FD_READ == 0);
    assert!(g.ctx.paths_read().contains("stdin"));
    assert!(g.ctx.paths_written().contains("stdout"));
    let st = g.fstat(1).unwrap();
    assert_eq!((st.filetype, st.size), (filetype::CHARACTER_DEVICE, 3));

    let mut g = Guest::with(vfs, &[], WasiConfig::default());
    assert_eq!(g.write(1, b"x"), Err(NOTCAPABLE), "no stdout capability");
    assert_eq!(g.read(0, 1), Err(NOTCAPABLE), "no stdin capability");
}

#[test]
fn file_io_seek_tell_pread_pwrite() {
    let mut g = rw_guest();
    let d = g.preopen("/data");
    let fd = g.open(d, "f.txt", oflags::CREAT, Mode::ReadWrite).unwrap();
    assert_eq!(g.write(fd, b"hello world").unwrap(), 11);
    assert_eq!(g.seek(fd, 0, 1).unwrap(), 11);
    assert_eq!(g.seek(fd, -5, 2).unwrap(), 6);
    assert_eq!(g.read(fd, 100).unwrap(), b"world");
    assert_eq!(g.seek(fd, 0, 0).unwrap(), 0);
    assert_eq!(g.read(fd, 5).unwrap(), b"hello");
    let out = g.out(8);
    assert_eq!(g.ctx.fd_tell(&mut g.mem, fd, out).unwrap(), 0);
    assert_eq!(g.u64_at(out), 5);
    assert_eq!(g.seek(fd, -1, 0), Err(E(errno::INVAL)));
    assert_eq!(g.seek(fd, 0, 3), Err(E(errno::INVAL)));
    assert_eq!(g.seek(fd, i64::MAX, 2), Err(E(errno::INVAL)));
    assert_eq!(g.pread(fd, 3, 6).unwrap(), b"wor");
    assert_eq!(g.pread(fd, 3, 100).unwrap(), b"");
    assert_eq!(g.pwrite(fd, b"J", 0).unwrap(), 1);
    assert_eq!(g.pwrite(fd, b"!", 13).unwrap(), 1);
    assert_eq!(g.pread(fd, 100, 0).unwrap(), b"Jello world\0\0!");
    let out = g.out(8);
    assert_eq!(g.ctx.fd_tell(&mut g.mem, fd, out).unwrap(), 0);
    assert_eq!(g.u64_at(out), 5, "pread/pwrite leave the position alone");
    assert_eq!(g.pread(fd, 1, u64::MAX), Err(E(errno::INVAL)));

    // Two iovecs in one call, gathered in order.
    let a = g.put(b"ab");
    let b = g.put(b"cd");
    let mut v = Vec::new();
    for (p, l) in [(a, 2u32), (b, 2)] {
        v.extend_from_slice(&(p as u32).to_le_bytes());
        v.extend_from_slice(&l.to_le_bytes());
    }
    let iovs = g.put(&v);
    let n = g.out(4);
    assert_eq!(g.seek(fd, 0, 2).unwrap(), 14);
    assert_eq!(g.ctx.fd_write(&mut g.mem, fd, iovs, 2, n).unwrap(), 0);
    assert_eq!(g.u32_at(n), 4);
    assert_eq!(g.pread(fd, 100, 14).unwrap(), b"abcd");
    // And scattered reads.
    let (x, y) = (g.out(3), g.out(3));
    let mut v = Vec::new();
    for p in [x, y] {
        v.extend_from_slice(&(p as u32).to_le_bytes());
        v.extend_from_slice(&3u32.to_le_bytes());
    }
    let iovs = g.put(&v);
    assert_eq!(g.ctx.fd_pread(&mut g.mem, fd, iovs, 2, 0, n).unwrap(), 0);
    assert_eq!(g.u32_at(n), 6);
    assert_eq!(g.bytes_at(x, 3), b"Jel");
    assert_eq!(g.bytes_at(y, 3), b"lo ");

    // Directories and bad descriptors.
    assert_eq!(g.read(d, 1), Err(NOTCAPABLE));
    assert_eq!(g.read(77, 1), Err(E(errno::BADF)));
    assert_eq!(g.write(-1, b"x"), Err(E(errno::BADF)));
    assert_eq!(g.seek(d, 0, 0), Err(NOTCAPABLE));
    assert_eq!(g.close(fd), 0);
    assert_eq!(g.close(fd), E(errno::BADF));
    assert!(g.ctx.paths_written().contains("/data/f.txt"));
    assert!(g.ctx.paths_read().contains("/data/f.txt"));
}

#[test]
fn fdstat_flags_and_rights() {
    let mut g = rw_guest();
    let d = g.preopen("/data");
    let (ft, _, base, inh) = g.fdstat(d).unwrap();
    assert_eq!(ft, filetype::DIRECTORY);
    assert!(base & rights::PATH_OPEN != 0 && base & rights::FD_READDIR != 0);
    assert!(inh & rights::FD_WRITE != 0 && inh & rights::FD_READ != 0);
    let fd = g.open(d, "f", oflags::CREAT, Mode::ReadWrite).unwrap();
    g.write(fd, b"abc").unwrap();
    // Append mode: writes go to the end whatever the position.
    assert_eq!(
        g.ctx
            .fd_fdstat_set_flags(&mut g.mem, fd, i32::from(fdflags::APPEND))
            .unwrap(),
        0
    );
    assert_eq!(g.fdstat(fd).unwrap().1, fdflags::APPEND);
    g.seek(fd, 0, 0).unwrap();
    g.write(fd, b"de").unwrap();
    assert_eq!(g.pread(fd, 10, 0).unwrap(), b"abcde");
    assert_eq!(g.seek(fd, 0, 1).unwrap(), 5);
    assert_eq!(
        g.ctx.fd_fdstat_set_flags(&mut g.mem, fd, 0x100).unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(
        g.ctx.fd_fdstat_set_flags(&mut g.mem, 99, 0).unwrap(),
        E(errno::BADF)
    );
    // Stdout is append-only.
    assert_eq!(
        g.ctx.fd_fdstat_set_flags(&mut g.mem, 1, 0).unwrap(),
        NOTCAPABLE
    );

    // Rights can be narrowed, never widened.
    let (_, _, base, _) = g.fdstat(fd).unwrap();
    let narrowed = base & !rights::FD_WRITE;
    assert_eq!(
        g.ctx
            .fd_fdstat_set_rights(&mut g.mem, fd, narrowed as i64, 0)
            .unwrap(),
        0
    );
    assert_eq!(g.write(fd, b"x"), Err(NOTCAPABLE));
    assert_eq!(
        g.ctx
            .fd_fdstat_set_rights(&mut g.mem, fd, base as i64, 0)
            .unwrap(),
        NOTCAPABLE
    );
    assert_eq!(g.fdstat(fd).unwrap().2, narrowed);
    // A narrowed directory passes on only what it still has.
    let (_, _, dbase, dinh) = g.fdstat(d).unwrap();
    assert_eq!(
        g.ctx
            .fd_fdstat_set_rights(
                &mut g.mem,
                d,
                dbase as i64,
                (dinh & !rights::FD_WRITE) as i64
            )
            .unwrap(),
        0
    );
    let ro = g.open(d, "f", 0, Mode::ReadWrite).unwrap();
    assert_eq!(g.write(ro, b"x"), Err(NOTCAPABLE));
    let full = g.fdstat(ro).unwrap().2 | rights::FD_WRITE;
    assert_eq!(
        g.open_raw(d, 0, "f", 0, full, 0, 0),
        Err(NOTCAPABLE),
        "asking for more than the directory passes on"
    );
    let out = g.out(24);
    assert_eq!(
        g.ctx.fd_fdstat_get(&mut g.mem, 99, out).unwrap(),
        E(errno::BADF)
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.fd_fdstat_get(&mut g.mem, d, end - 23).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn filestat_size_times_allocate_advise_sync() {
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1000));
    let c = clock.clone();
    let vfs = Vfs::new(veracruz_vfs::VfsConfig {
        clock: veracruz_vfs::Clock::Custom(std::sync::Arc::new(move || {
            c.load(std::sync::atomic::Ordering::SeqCst)
        })),
        ..Default::default()
    });
    let mut g = Guest::with(vfs, &[("/data/", "rw")], WasiConfig::default());
    let d = g.preopen("/data");
    let fd = g.open(d, "f", oflags::CREAT, Mode::ReadWrite).unwrap();
    g.write(fd, b"0123456789").unwrap();
    let st = g.fstat(fd).unwrap();
    assert_eq!(
        (st.filetype, st.size, st.nlink),
        (filetype::REGULAR_FILE, 10, 1)
    );
    assert_eq!((st.atim, st.mtim, st.ctim), (1000, 1000, 1000));

    assert_eq!(g.ctx.fd_filestat_set_size(&mut g.mem, fd, 4).unwrap(), 0);
    assert_eq!(g.pread(fd, 100, 0).unwrap(), b"0123");
    assert_eq!(g.ctx.fd_filestat_set_size(&mut g.mem, fd, 6).unwrap(), 0);
    assert_eq!(g.pread(fd, 100, 0).unwrap(), b"0123\0\0");
    assert_eq!(
        g.ctx.fd_filestat_set_size(&mut g.mem, fd, -1).unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(
        g.ctx.fd_filestat_set_size(&mut g.mem, d, 0).unwrap(),
        NOTCAPABLE
    );

    assert_eq!(g.ctx.fd_allocate(&mut g.mem, fd, 2, 10).unwrap(), 0);
    assert_eq!(g.fstat(fd).unwrap().size, 12);
    assert_eq!(g.ctx.fd_allocate(&mut g.mem, fd, 0, 1).unwrap(), 0);
    assert_eq!(g.fstat(fd).unwrap().size, 12, "allocate never shrinks");
    assert_eq!(
        g.ctx.fd_allocate(&mut g.mem, fd, -1, 1).unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(
        g.ctx.fd_allocate(&mut g.mem, fd, i64::MAX, 1).unwrap(),
        E(errno::FBIG)
    );

    clock.store(5000, std::sync::atomic::Ordering::SeqCst);
    let flags = i32::from(fstflags::ATIM | fstflags::MTIM_NOW);
    assert_eq!(
        g.ctx
            .fd_filestat_set_times(&mut g.mem, fd, 42, 0, flags)
            .unwrap(),
        0
    );
    let st = g.fstat(fd).unwrap();
    assert_eq!((st.atim, st.mtim, st.ctim), (42, 5000, 5000));
    let bad = i32::from(fstflags::ATIM | fstflags::ATIM_NOW);
    assert_eq!(
        g.ctx
            .fd_filestat_set_times(&mut g.mem, fd, 0, 0, bad)
            .unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(
        g.ctx
            .fd_filestat_set_times(&mut g.mem, fd, 0, 0, 0x40)
            .unwrap(),
        E(errno::INVAL)
    );

    assert_eq!(g.ctx.fd_advise(&mut g.mem, fd, 0, 10, 2).unwrap(), 0);
    assert_eq!(
        g.ctx.fd_advise(&mut g.mem, fd, 0, 10, 6).unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(
        g.ctx.fd_advise(&mut g.mem, fd, -1, 10, 0).unwrap(),
        E(errno::INVAL)
    );
    assert_eq!(g.ctx.fd_advise(&mut g.mem, 1, 0, 0, 0).unwrap(), NOTCAPABLE);
    assert_eq!(
        g.ctx.fd_advise(&mut g.mem, 50, 0, 0, 0).unwrap(),
        E(errno::BADF)
    );
    assert_eq!(g.ctx.fd_datasync(&mut g.mem, fd).unwrap(), 0);
    assert_eq!(g.ctx.fd_sync(&mut g.mem, fd).unwrap(), 0);
    assert_eq!(g.ctx.fd_sync(&mut g.mem, 50).unwrap(), E(errno::BADF));
    assert_eq!(g.ctx.fd_datasync(&mut g.mem, 0).unwrap(), NOTCAPABLE);

    // A read-only descriptor cannot change size or times.
    let ro = g.open(d, "f", 0, Mode::Read).unwrap();
    assert_eq!(
        g.ctx.fd_filestat_set_size(&mut g.mem, ro, 0).unwrap(),
        NOTCAPABLE
    );
    assert_eq!(
        g.ctx.fd_allocate(&mut g.mem, ro, 0, 100).unwrap(),
        NOTCAPABLE
    );
    // As with POSIX futimens, a read-only descriptor may set times on a file the program may
    // write (wasi-libc asks for that right whatever the access mode).
    assert_eq!(
        g.ctx
            .fd_filestat_set_times(&mut g.mem, ro, 0, 0, 1)
            .unwrap(),
        0
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.fd_filestat_get(&mut g.mem, fd, end - 63).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn prestat_and_dir_names() {
    let vfs = Vfs::default();
    admin(&vfs).create_dir_all("/a/x").unwrap();
    let mut g = Guest::with(
        vfs,
        &[("/b/", "r"), ("/a/", "w"), ("/a/x/", "r"), ("/c/", "")],
        WasiConfig::default(),
    );
    assert_eq!(
        g.ctx.preopens(),
        vec![(3, "/a".to_string()), (4, "/b".to_string())],
        "each top-level directory granting something, in name order"
    );
    let out = g.out(8);
    assert_eq!(g.ctx.fd_prestat_get(&mut g.mem, 3, out).unwrap(), 0);
    assert_eq!((g.mem[out as usize], g.u32_at(out + 4)), (0, 2));
    let name = g.out(2);
    assert_eq!(
        g.ctx.fd_prestat_dir_name(&mut g.mem, 4, name, 2).unwrap(),
        0
    );
    assert_eq!(g.bytes_at(name, 2), b"/b");
    assert_eq!(
        g.ctx.fd_prestat_dir_name(&mut g.mem, 4, name, 1).unwrap(),
        E(errno::NAMETOOLONG)
    );
    assert_eq!(
        g.ctx.fd_prestat_get(&mut g.mem, 5, out).unwrap(),
        E(errno::BADF)
    );
    assert_eq!(
        g.ctx.fd_prestat_get(&mut g.mem, 1, out).unwrap(),
        E(errno::BADF)
    );
    let fd = g.open(3, "x", oflags::DIRECTORY, Mode::Read).unwrap();
    assert_eq!(
        g.ctx.fd_prestat_get(&mut g.mem, fd, out).unwrap(),
        E(errno::BADF)
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.fd_prestat_get(&mut g.mem, 3, end - 4).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx
            .fd_prestat_dir_name(&mut g.mem, 3, end - 1, 2)
            .unwrap(),
        E(errno::FAULT)
    );

    let g = Guest::new(&[("/", "r"), ("/out/", "rw")]);
    assert_eq!(
        g.ctx.preopens(),
        vec![(3, "/".to_string())],
        "`/` granted: one root pre-open"
    );
}

#[test]
fn renumber_and_close() {
    let mut g = rw_guest();
    let d = g.preopen("/data");
    let a = g.open(d, "a", oflags::CREAT, Mode::ReadWrite).unwrap();
    let b = g.open(d, "b", oflags::CREAT, Mode::ReadWrite).unwrap();
    g.write(a, b"from a").unwrap();
    assert_eq!(g.ctx.fd_renumber(&mut g.mem, a, b).unwrap(), 0);
    assert_eq!(g.pread(b, 100, 0).unwrap(), b"from a");
    assert_eq!(g.read(a, 1), Err(E(errno::BADF)));
    assert_eq!(g.ctx.fd_renumber(&mut g.mem, a, b).unwrap(), E(errno::BADF));
    assert_eq!(
        g.ctx.fd_renumber(&mut g.mem, b, 99).unwrap(),
        E(errno::BADF)
    );
    assert_eq!(g.ctx.fd_renumber(&mut g.mem, b, b).unwrap(), 0);
    // The lowest free number is reused.
    let c = g.open(d, "c", oflags::CREAT, Mode::Write).unwrap();
    assert_eq!(c, a);
    // Renumbering over a pre-open replaces it; closing the standard streams is allowed.
    assert_eq!(g.ctx.fd_renumber(&mut g.mem, c, d).unwrap(), 0);
    assert_eq!(g.ctx.preopens(), vec![]);
    assert_eq!(g.close(0), 0);
    assert_eq!(g.read(0, 1), Err(E(errno::BADF)));
}

#[test]
fn readdir_with_cookies_and_small_buffers() {
    let vfs = Vfs::default();
    let h = admin(&vfs);
    for name in ["b", "a", "long-name-number-three", "c"] {
        h.write_file(&format!("/d/{name}"), b"x").unwrap();
    }
    h.create_dir_all("/d/sub").unwrap();
    let mut g = Guest::with(vfs, &[("/d/", "r")], WasiConfig::default());
    let d = g.preopen("/d");
    assert_eq!(
        g.list(d).unwrap(),
        vec![".", "..", "a", "b", "c", "long-name-number-three", "sub"]
    );
    let (all, used) = g.readdir(d, 0, 4096).unwrap();
    assert!(used < 4096);
    assert_eq!(all.len(), 7);
    assert_eq!(all[2], ("a".to_string(), 3, filetype::REGULAR_FILE));
    assert_eq!(all[6].2, filetype::DIRECTORY);
    // Resuming from a cookie, and past the end.
    let (rest, _) = g.readdir(d, 5, 4096).unwrap();
    assert_eq!(rest[0].0, "long-name-number-three");
    assert_eq!(g.readdir(d, 7, 4096).unwrap(), (vec![], 0));
    assert_eq!(g.readdir(d, u64::MAX, 4096).unwrap(), (vec![], 0));
    // A buffer too small for one entry is filled completely: the guest knows to retry.
    assert_eq!(g.readdir(d, 0, 10).unwrap().1, 10);
    // Errors.
    let f = g.open(d, "a", 0, Mode::Read).unwrap();
    assert_eq!(
        g.readdir(f, 0, 100),
        Err(NOTCAPABLE),
        "files lack FD_READDIR"
    );
    assert_eq!(g.readdir(99, 0, 100), Err(E(errno::BADF)));
    let end = g.mem.len() as i32;
    let used = g.out(4);
    assert_eq!(
        g.ctx
            .fd_readdir(&mut g.mem, d, end - 10, 100, 0, used)
            .unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.fd_readdir(&mut g.mem, d, 0, 100, 0, end - 2).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn poll_oneoff_clock_and_fd_subscriptions() {
    fn sub(userdata: u64, tag: u8, a: u32, timeout: u64, flags: u16) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8] = tag;
        b[16..20].copy_from_slice(&a.to_le_bytes());
        b[24..32].copy_from_slice(&timeout.to_le_bytes());
        b[40..42].copy_from_slice(&flags.to_le_bytes());
        b
    }
    fn events(g: &Guest, at: i32, n: u32) -> Vec<(u64, u16, u8, u64, u16)> {
        (0..n as i32)
            .map(|i| {
                let p = at + 32 * i;
                let error = u16::from_le_bytes([g.mem[p as usize + 8], g.mem[p as usize + 9]]);
                let flags = u16::from_le_bytes([g.mem[p as usize + 24], g.mem[p as usize + 25]]);
                (
                    g.u64_at(p),
                    error,
                    g.mem[p as usize + 10],
                    g.u64_at(p + 16),
                    flags,
                )
            })
            .collect()
    }
    let vfs = Vfs::default();
    admin(&vfs).write_file("stdin", b"abc").unwrap();
    let mut g = Guest::with(
        vfs.clone(),
        &[("stdin", "r"), ("stdout", "w")],
        WasiConfig::default(),
    );
    let mut subs = sub(1, eventtype::CLOCK, 1, 1_000, 0);
    subs.extend(sub(2, eventtype::FD_READ, 0, 0, 0));
    subs.extend(sub(3, eventtype::FD_WRITE, 1, 0, 0));
    subs.extend(sub(4, eventtype::FD_READ, 42, 0, 0));
    subs.extend(sub(5, eventtype::FD_READ, 1, 0, 0));
    let s = g.put(&subs);
    let ev = g.out(32 * 5);
    let n = g.out(4);
    assert_eq!(g.ctx.poll_oneoff(&mut g.mem, s, ev, 5, n).unwrap(), 0);
    assert_eq!(g.u32_at(n), 5);
    assert_eq!(
        events(&g, ev, 5),
        vec![
            (1, errno::ACCES, eventtype::CLOCK, 0, 0),
            (2, 0, eventtype::FD_READ, 3, 0),
            (3, 0, eventtype::FD_WRITE, 0, 0),
            (4, errno::BADF, eventtype::FD_READ, 0, 0),
            (5, errno::NOTCAPABLE, eventtype::FD_READ, 0, 0),
        ]
    );
    g.read(0, 3).unwrap();
    let s = g.put(&sub(9, eventtype::FD_READ, 0, 0, 0));
    assert_eq!(g.ctx.poll_oneoff(&mut g.mem, s, ev, 1, n).unwrap(), 0);
    assert_eq!(
        events(&g, ev, 1)[0],
        (9, 0, eventtype::FD_READ, 0, eventrwflags::HANGUP)
    );

    assert_eq!(
        g.ctx.poll_oneoff(&mut g.mem, s, ev, 0, n).unwrap(),
        E(errno::INVAL)
    );
    let bad = g.put(&sub(1, 7, 0, 0, 0));
    assert_eq!(
        g.ctx.poll_oneoff(&mut g.mem, bad, ev, 1, n).unwrap(),
        E(errno::INVAL)
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.poll_oneoff(&mut g.mem, end - 40, ev, 1, n).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.poll_oneoff(&mut g.mem, s, end - 31, 1, n).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.poll_oneoff(&mut g.mem, s, ev, -1, n).unwrap(),
        E(errno::FAULT)
    );

    // With the clock: a relative timeout sleeps, an absolute one in the past fires at once.
    let config = WasiConfig {
        enable_clock: true,
        max_poll_sleep: Duration::from_millis(100),
        ..WasiConfig::default()
    };
    let mut g = Guest::with(vfs, &[], config);
    let mut subs = sub(7, eventtype::CLOCK, 1, 5_000_000, 0);
    subs.extend(sub(8, eventtype::CLOCK, 1, 50_000_000, 0));
    let s = g.put(&subs);
    let ev = g.out(64);
    let n = g.out(4);
    let t = std::time::Instant::now();
    assert_eq!(g.ctx.poll_oneoff(&mut g.mem, s, ev, 2, n).unwrap(), 0);
    assert!(t.elapsed() >= Duration::from_millis(5));
    assert!(t.elapsed() < Duration::from_millis(50));
    assert_eq!(
        events(&g, ev, g.u32_at(n)),
        vec![(7, 0, eventtype::CLOCK, 0, 0)]
    );
    let s = g.put(&sub(6, eventtype::CLOCK, 0, 1, 1));
    assert_eq!(g.ctx.poll_oneoff(&mut g.mem, s, ev, 1, n).unwrap(), 0);
    assert_eq!(events(&g, ev, 1), vec![(6, 0, eventtype::CLOCK, 0, 0)]);
    // An expired clock is reported alongside other ready events, a pending one is not.
    let mut subs = sub(1, eventtype::CLOCK, 1, 0, 0);
    subs.extend(sub(2, eventtype::CLOCK, 1, 1_000_000_000, 0));
    subs.extend(sub(3, eventtype::FD_WRITE, 1, 0, 0));
    let s = g.put(&subs);
    let ev = g.out(96);
    assert_eq!(g.ctx.poll_oneoff(&mut g.mem, s, ev, 3, n).unwrap(), 0);
    assert_eq!(
        events(&g, ev, g.u32_at(n)),
        vec![
            (3, errno::NOTCAPABLE, eventtype::FD_WRITE, 0, 0),
            (1, 0, eventtype::CLOCK, 0, 0)
        ]
    );
    let s = g.put(&sub(6, eventtype::CLOCK, 1, 10_000_000_000, 0));
    assert!(matches!(
        g.ctx.poll_oneoff(&mut g.mem, s, ev, 1, n),
        Err(HostError::Limit {
            limit: "max_poll_sleep",
            ..
        })
    ));
}

#[test]
fn proc_exit_raise_yield() {
    let mut g = rw_guest();
    assert!(matches!(
        g.ctx.proc_exit(&mut g.mem, 3),
        Err(HostError::Exit(3))
    ));
    assert!(matches!(
        g.ctx.proc_raise(&mut g.mem, 6),
        Err(HostError::Trap(m)) if m.contains("signal 6")
    ));
    assert_eq!(g.ctx.proc_raise(&mut g.mem, 31).unwrap(), E(errno::INVAL));
    assert_eq!(g.ctx.proc_raise(&mut g.mem, -1).unwrap(), E(errno::INVAL));
    assert_eq!(g.ctx.sched_yield(&mut g.mem).unwrap(), 0);
}

#[test]
fn random_get_fills_from_the_os() {
    let mut g = rw_guest();
    let a = g.out(32);
    let b = g.out(32);
    assert_eq!(g.ctx.random_get(&mut g.mem, a, 32).unwrap(), 0);
    assert_eq!(g.ctx.random_get(&mut g.mem, b, 32).unwrap(), 0);
    assert_ne!(g.bytes_at(a, 32), [0u8; 32]);
    assert_ne!(g.bytes_at(a, 32), g.bytes_at(b, 32));
    assert_eq!(g.ctx.random_get(&mut g.mem, a, 0).unwrap(), 0);
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx.random_get(&mut g.mem, end - 31, 32).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.random_get(&mut g.mem, 0, -1).unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn sockets_are_not_supported() {
    let mut g = rw_guest();
    let m = &mut g.mem;
    assert_eq!(g.ctx.sock_accept(m, 99, 0, 0).unwrap(), E(errno::BADF));
    assert_eq!(g.ctx.sock_accept(m, 1, 0, 0).unwrap(), E(errno::NOTSUP));
    assert_eq!(
        g.ctx.sock_recv(m, 99, 0, 0, 0, 0, 0).unwrap(),
        E(errno::BADF)
    );
    assert_eq!(
        g.ctx.sock_recv(m, 0, 0, 0, 0, 0, 0).unwrap(),
        E(errno::NOTSUP)
    );
    assert_eq!(g.ctx.sock_send(m, 99, 0, 0, 0, 0).unwrap(), E(errno::BADF));
    assert_eq!(g.ctx.sock_send(m, 1, 0, 0, 0, 0).unwrap(), E(errno::NOTSUP));
    assert_eq!(g.ctx.sock_shutdown(m, 99, 0).unwrap(), E(errno::BADF));
    assert_eq!(g.ctx.sock_shutdown(m, 2, 0).unwrap(), E(errno::NOTSUP));
}

#[test]
fn efault_leaves_no_side_effects() {
    let mut g = rw_guest();
    let d = g.preopen("/data");
    let fd = g.open(d, "f", oflags::CREAT, Mode::ReadWrite).unwrap();
    let end = g.mem.len() as i32;
    let data = g.put(b"data");
    let mut iov = (data as u32).to_le_bytes().to_vec();
    iov.extend_from_slice(&4u32.to_le_bytes());
    let iov = g.put(&iov);
    // Bad nwritten pointer: nothing is written.
    assert_eq!(
        g.ctx.fd_write(&mut g.mem, fd, iov, 1, end - 3).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(g.fstat(fd).unwrap().size, 0);
    // Bad iovec array, and an iovec whose buffer runs off the end.
    let n = g.out(4);
    assert_eq!(
        g.ctx.fd_write(&mut g.mem, fd, end - 4, 1, n).unwrap(),
        E(errno::FAULT)
    );
    let mut bad = (end as u32 - 2).to_le_bytes().to_vec();
    bad.extend_from_slice(&4u32.to_le_bytes());
    let bad_iov = g.put(&bad);
    let mut two = g.bytes_at(iov, 8).to_vec();
    two.extend_from_slice(&bad);
    let two = g.put(&two);
    assert_eq!(
        g.ctx.fd_write(&mut g.mem, fd, two, 2, n).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.fstat(fd).unwrap().size,
        0,
        "the good first iovec was not written either"
    );
    assert_eq!(
        g.ctx.fd_read(&mut g.mem, fd, bad_iov, 1, n).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.fd_pwrite(&mut g.mem, fd, bad_iov, 1, 0, n).unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(
        g.ctx.fd_pread(&mut g.mem, fd, bad_iov, 1, 0, n).unwrap(),
        E(errno::FAULT)
    );
    // Bad path pointers.
    let out = g.out(4);
    for (p, l) in [(end - 1, 2), (-16, 8), (0, -1)] {
        assert_eq!(
            g.ctx
                .path_open(&mut g.mem, d, 0, p, l, 1, 0, 0, 0, out)
                .unwrap(),
            E(errno::FAULT)
        );
        assert_eq!(
            g.ctx.path_create_directory(&mut g.mem, d, p, l).unwrap(),
            E(errno::FAULT)
        );
        assert_eq!(
            g.ctx.path_unlink_file(&mut g.mem, d, p, l).unwrap(),
            E(errno::FAULT)
        );
    }
    // Bad opened-fd pointer: the file is not created.
    let (p, l) = g.str("never");
    assert_eq!(
        g.ctx
            .path_open(&mut g.mem, d, 0, p, l, 1, -1, -1, 0, end)
            .unwrap(),
        E(errno::FAULT)
    );
    assert_eq!(g.stat(d, "never", false), Err(E(errno::NOENT)));
    // Invalid UTF-8 in a path.
    let bad = g.put(&[0xff, 0xfe]);
    assert_eq!(
        g.ctx.path_create_directory(&mut g.mem, d, bad, 2).unwrap(),
        E(errno::ILSEQ)
    );
}

#[test]
fn readdir_passes_read_one_snapshot_and_a_new_pass_sees_changes() {
    let vfs = Vfs::default();
    let h = admin(&vfs);
    for i in 0..2000 {
        h.write_file(&format!("/d/f{i:04}"), b"").unwrap();
    }
    let mut g = Guest::with(vfs, &[("/d/", "r")], WasiConfig::default());
    let d = g.preopen("/d");
    // Many small calls (as wasi-libc makes) see every entry exactly once.
    let names = g.list(d).unwrap();
    assert_eq!(names.len(), 2002);
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 2002);
    // A pass continues over the listing it started with...
    let (first, _) = g.readdir(d, 0, 64).unwrap();
    let cookie = first.last().unwrap().1;
    h.write_file("/d/zz-new", b"").unwrap();
    let (rest, _) = g.readdir(d, cookie, 1 << 16).unwrap();
    assert!(rest.iter().all(|(n, _, _)| n != "zz-new"));
    // ...and a new pass from cookie 0 sees the change.
    assert!(g.list(d).unwrap().contains(&"zz-new".to_string()));
}
