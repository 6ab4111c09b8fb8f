//! Output, open-file and VFS quota limits.

use veracruz_vfs::{Vfs, VfsConfig};

use super::{Guest, Mode};
use crate::types::{errno, oflags};
use crate::{HostError, WasiConfig};

#[test]
fn output_bytes_are_bounded() {
    let config = WasiConfig {
        max_output_bytes: 10,
        ..WasiConfig::default()
    };
    let mut g = Guest::with(Vfs::default(), &[("/o/", "rw"), ("stdout", "w")], config);
    let d = g.preopen("/o");
    assert_eq!(g.write(1, b"123456").unwrap(), 6);
    let fd = g.open(d, "f", oflags::CREAT, Mode::Write).unwrap();
    assert_eq!(g.write(fd, b"78").unwrap(), 2);
    let err = g.try_write(fd, b"abc").unwrap_err();
    assert!(
        matches!(
            &err,
            HostError::Limit {
                limit: "max_output_bytes",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max_output_bytes"), "{err}");
    assert_eq!(
        g.fstat(fd).unwrap().size,
        2,
        "the refused write wrote nothing"
    );
    // Growing a file without writing counts too.
    assert!(matches!(
        g.ctx.fd_filestat_set_size(&mut g.mem, fd, 1 << 40),
        Err(HostError::Limit {
            limit: "max_output_bytes",
            ..
        })
    ));
    assert!(matches!(
        g.ctx.fd_allocate(&mut g.mem, fd, 0, 100),
        Err(HostError::Limit {
            limit: "max_output_bytes",
            ..
        })
    ));
    assert_eq!(g.ctx.output_bytes(), 8);
}

#[test]
fn open_files_are_bounded() {
    let config = WasiConfig {
        max_open_files: 2,
        ..WasiConfig::default()
    };
    let mut g = Guest::with(Vfs::default(), &[("/o/", "rw")], config);
    let d = g.preopen("/o");
    let a = g.open(d, "a", oflags::CREAT, Mode::Write).unwrap();
    let _b = g.open(d, ".", oflags::DIRECTORY, Mode::Read).unwrap();
    let (p, l) = g.str("c");
    let out = g.out(4);
    let err = g
        .ctx
        .path_open(&mut g.mem, d, 1, p, l, 1, -1, -1, 0, out)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            HostError::Limit {
                limit: "max_open_files",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        g.stat(d, "c", false),
        Err(i32::from(errno::NOENT)),
        "nothing created"
    );
    g.close(a);
    assert!(g.open(d, "c", oflags::CREAT, Mode::Write).is_ok());
}

#[test]
fn the_vfs_quota_is_enospc() {
    let vfs = Vfs::new(VfsConfig {
        max_total_bytes: 4096,
        ..VfsConfig::default()
    });
    let mut g = Guest::with(
        vfs,
        &[("/o/", "rw"), ("stdout", "w")],
        WasiConfig::default(),
    );
    let d = g.preopen("/o");
    let fd = g.open(d, "f", oflags::CREAT, Mode::Write).unwrap();
    assert_eq!(g.write(fd, &[0; 5000]), Err(i32::from(errno::NOSPC)));
    assert_eq!(g.write(1, &[0; 5000]), Err(i32::from(errno::NOSPC)));
    assert_eq!(
        g.ctx.fd_filestat_set_size(&mut g.mem, fd, 5000).unwrap(),
        i32::from(errno::NOSPC)
    );
    assert_eq!(g.ctx.output_bytes(), 0, "refused writes are not counted");
    assert_eq!(g.write(fd, &[1; 1000]).unwrap(), 1000);
    // Many empty files run into the quota too (each inode and entry is charged).
    let mut last = 0;
    for i in 0..100 {
        last = g.mkdir(d, &format!("dir{i}"));
        if last != 0 {
            break;
        }
    }
    assert_eq!(last, i32::from(errno::NOSPC));
}

#[test]
fn descriptors_are_released_when_the_context_is_dropped() {
    let vfs = Vfs::default();
    let used_before = {
        let g = Guest::with(vfs.clone(), &[("/o/", "rw")], WasiConfig::default());
        drop(g);
        vfs.lock().used_bytes()
    };
    let mut g = Guest::with(vfs.clone(), &[("/o/", "rw")], WasiConfig::default());
    let d = g.preopen("/o");
    let fd = g.open(d, "f", oflags::CREAT, Mode::Write).unwrap();
    g.write(fd, &[7; 100]).unwrap();
    assert_eq!(g.unlink(d, "f"), 0);
    assert!(vfs.lock().used_bytes() > used_before, "still open");
    drop(g);
    assert_eq!(
        vfs.lock().used_bytes(),
        used_before,
        "unlinked file freed on drop"
    );
}

#[test]
fn deep_directory_trees_do_not_exhaust_the_host_stack() {
    let vfs = Vfs::default();
    {
        let mut fs = vfs.lock();
        let mut dir = fs
            .create_dir_all(&["w".to_string(), "deep".to_string()])
            .unwrap();
        for _ in 0..3000 {
            dir = fs.create_dir(dir, "d").unwrap();
        }
        fs.create_file(dir, "leaf").unwrap();
    }
    let mut g = Guest::with(vfs.clone(), &[("/w/", "rw")], WasiConfig::default());
    let d = g.preopen("/w");
    assert_eq!(g.rename(d, "deep", d, "moved"), 0);
    let tmp = std::env::temp_dir().join(format!("veracruz-wasi-deep-{}", std::process::id()));
    // The host refuses paths this long; the point is that the walk does not overflow.
    let _ = vfs.save_to_host_dir("/w", &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
}
