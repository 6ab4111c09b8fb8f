//! A program cannot read, write, list or stat outside its capabilities, whatever path tricks it
//! uses.

use veracruz_vfs::Vfs;

use super::{admin, Guest, Mode, NOTCAPABLE};
use crate::types::{errno, oflags};
use crate::WasiConfig;

const E: fn(u16) -> i32 = |e| i32::from(e);

/// `/input` readable except `secret.txt` and `hidden/`; `/output` read-write; `/private` not in
/// the map at all.
fn setup() -> (Vfs, Guest, i32, i32) {
    let vfs = Vfs::default();
    let h = admin(&vfs);
    h.write_file("/input/public.txt", b"public").unwrap();
    h.write_file("/input/secret.txt", b"s3cret").unwrap();
    h.write_file("/input/hidden/x", b"hidden").unwrap();
    h.write_file("/private/key", b"KEY").unwrap();
    h.create_dir_all("/output").unwrap();
    let g = Guest::with(
        vfs.clone(),
        &[
            ("/input/", "r"),
            ("/input/secret.txt", ""),
            ("/input/hidden/", ""),
            ("/output/", "rw"),
            ("stdout", "w"),
        ],
        WasiConfig::default(),
    );
    let (i, o) = (g.preopen("/input"), g.preopen("/output"));
    (vfs, g, i, o)
}

#[test]
fn only_the_top_level_directories_of_the_map_are_pre_opened() {
    let (_, g, _, _) = setup();
    assert_eq!(
        g.ctx.preopens(),
        vec![(3, "/input".to_string()), (4, "/output".to_string())]
    );
}

#[test]
fn dotdot_and_absolute_paths_cannot_leave_a_pre_open() {
    let (_, mut g, i, o) = setup();
    for path in [
        "../private/key",
        "..",
        "./../input/public.txt",
        "../../private/key",
        "/private/key",
        "/input/public.txt",
    ] {
        assert_eq!(g.read_file(i, path), Err(NOTCAPABLE), "{path}");
        assert_eq!(g.stat(i, path, true), Err(NOTCAPABLE), "{path}");
    }
    assert_eq!(g.read_file(o, "../input/public.txt"), Err(NOTCAPABLE));
    assert_eq!(g.write_file(o, "../input/new", b"x"), Err(NOTCAPABLE));
    assert_eq!(g.mkdir(o, "../escape"), NOTCAPABLE);
    // `..` that stays inside is fine.
    assert_eq!(
        g.read_file(i, "hidden/../public.txt"),
        Err(NOTCAPABLE),
        "hidden is not visible"
    );
    assert_eq!(g.mkdir(o, "d"), 0);
    assert_eq!(g.read_file(i, "./public.txt").unwrap(), b"public");
    g.write_file(o, "d/../f", b"ok").unwrap();
    assert_eq!(g.read_file(o, "f").unwrap(), b"ok");
}

#[test]
fn denied_paths_cannot_be_read_stat_or_probed() {
    let (_, mut g, i, _) = setup();
    assert_eq!(g.read_file(i, "secret.txt"), Err(NOTCAPABLE));
    assert_eq!(g.stat(i, "secret.txt", false), Err(NOTCAPABLE));
    // Existing and missing entries of a hidden directory answer alike: nothing leaks.
    assert_eq!(g.stat(i, "hidden/x", false), Err(NOTCAPABLE));
    assert_eq!(g.stat(i, "hidden/nonexistent", false), Err(NOTCAPABLE));
    assert_eq!(g.stat(i, "hidden", false), Err(NOTCAPABLE));
    assert_eq!(
        g.open(i, "hidden", oflags::DIRECTORY, Mode::Read),
        Err(NOTCAPABLE)
    );
    assert_eq!(g.readlink(i, "secret.txt", 10), Err(NOTCAPABLE));
    // Listing shows only visible entries.
    assert_eq!(g.list(i).unwrap(), vec![".", "..", "public.txt"]);
    // Read-only: nothing can be created, changed or removed there.
    assert_eq!(g.write_file(i, "public.txt", b"x"), Err(NOTCAPABLE));
    // wasi-libc asks only for rights the directory passes on, so a write-only open of a
    // read-only file gets a descriptor without FD_WRITE: writing through it fails.
    let fd = g.open(i, "public.txt", 0, Mode::Write).unwrap();
    assert_eq!(g.write(fd, b"x"), Err(NOTCAPABLE));
    assert_eq!(
        g.open(i, "public.txt", oflags::TRUNC, Mode::Read),
        Err(NOTCAPABLE)
    );
    assert_eq!(
        g.open(i, "new", oflags::CREAT, Mode::Write),
        Err(NOTCAPABLE)
    );
    assert_eq!(g.mkdir(i, "d"), NOTCAPABLE);
    assert_eq!(g.unlink(i, "public.txt"), NOTCAPABLE);
    assert_eq!(g.unlink(i, "secret.txt"), NOTCAPABLE);
    assert_eq!(g.symlink("x", i, "l"), NOTCAPABLE);
    let (p, l) = g.str("public.txt");
    assert_eq!(
        g.ctx
            .path_filestat_set_times(&mut g.mem, i, 0, p, l, 1, 1, 5)
            .unwrap(),
        NOTCAPABLE
    );
    assert!(g.ctx.paths_written().is_empty());
}

#[test]
fn symbolic_links_cannot_reach_outside() {
    let (vfs, mut g, i, o) = setup();
    // Links the program itself plants in its writable directory.
    assert_eq!(g.symlink("/input/secret.txt", o, "abs"), 0);
    assert_eq!(g.symlink("../input/public.txt", o, "rel_out"), 0);
    assert_eq!(g.symlink("../private/key", o, "c3"), 0);
    assert_eq!(g.symlink("c3", o, "c2"), 0);
    assert_eq!(g.symlink("c2", o, "c1"), 0);
    assert_eq!(g.symlink("a", o, "b"), 0);
    assert_eq!(g.symlink("b", o, "a"), 0);
    for (path, want) in [
        ("abs", NOTCAPABLE),
        ("rel_out", NOTCAPABLE),
        ("c1", NOTCAPABLE),
        ("a", E(errno::LOOP)),
    ] {
        assert_eq!(g.read_file(o, path), Err(want), "{path}");
        assert_eq!(g.stat(o, path, true), Err(want), "{path}");
        assert_eq!(
            g.open(o, path, oflags::CREAT, Mode::Write),
            Err(want),
            "{path}"
        );
    }
    // A link somebody else planted inside a readable directory is just as confined.
    {
        let mut fs = vfs.lock();
        let input = fs.lookup_tree(&["input".to_string()]).unwrap().unwrap();
        fs.create_symlink(input, "to_secret", "secret.txt").unwrap();
        fs.create_symlink(input, "to_hidden", "hidden/x").unwrap();
        fs.create_symlink(input, "to_private", "../private/key")
            .unwrap();
    }
    for path in ["to_secret", "to_hidden", "to_private"] {
        assert_eq!(g.read_file(i, path), Err(NOTCAPABLE), "{path}");
    }
    // With `/` pre-opened, absolute targets are still refused and `..` stays confined by the map.
    let mut g = Guest::with(
        vfs,
        &[("/", "r"), ("/private/", ""), ("/output/", "rw")],
        WasiConfig::default(),
    );
    let root = g.preopen("/");
    assert_eq!(g.read_file(root, "input/secret.txt").unwrap(), b"s3cret");
    assert_eq!(g.read_file(root, "private/key"), Err(NOTCAPABLE));
    assert_eq!(g.read_file(root, "output/../private/key"), Err(NOTCAPABLE));
    assert_eq!(g.symlink("../private/key", root, "output/l1"), 0);
    assert_eq!(g.symlink("/private/key", root, "output/l2"), 0);
    assert_eq!(g.symlink("/input/public.txt", root, "output/l3"), 0);
    assert_eq!(g.read_file(root, "output/l1"), Err(NOTCAPABLE));
    assert_eq!(g.read_file(root, "output/l2"), Err(NOTCAPABLE));
    assert_eq!(
        g.read_file(root, "output/l3"),
        Err(NOTCAPABLE),
        "absolute targets never resolve"
    );
    assert!(!g.list(root).unwrap().contains(&"private".to_string()));
}

#[test]
fn rename_and_link_cannot_widen_rights() {
    let vfs = Vfs::default();
    let h = admin(&vfs);
    h.write_file("/input/data", b"input data").unwrap();
    h.write_file("/sealed/data", b"sealed data").unwrap();
    h.write_file("/work/tmp", b"scratch").unwrap();
    h.write_file("/a/d/secret", b"inner secret").unwrap();
    h.write_file("/a/d/plain", b"plain").unwrap();
    h.create_dir_all("/output").unwrap();
    h.create_dir_all("/b").unwrap();
    let mut g = Guest::with(
        vfs.clone(),
        &[
            ("/input/", "r"),
            ("/sealed/", "w"),
            ("/work/", "rw"),
            ("/output/", "rw"),
            ("/final/", "w"),
            ("/a/", "rw"),
            ("/a/d/secret", ""),
            ("/b/", "rw"),
        ],
        WasiConfig::default(),
    );
    let (a, b, fin, input, output, sealed, work) = (
        g.preopen("/a"),
        g.preopen("/b"),
        g.preopen("/final"),
        g.preopen("/input"),
        g.preopen("/output"),
        g.preopen("/sealed"),
        g.preopen("/work"),
    );
    // Read-only input: it cannot be moved (that needs `w` on it) nor linked into a writable
    // place (the link would allow writing the input).
    assert_eq!(g.rename(input, "data", output, "data"), NOTCAPABLE);
    assert_eq!(g.link(input, "data", output, "data", false), NOTCAPABLE);
    // Write-only data cannot be moved or linked to where it could be read.
    assert_eq!(g.read_file(sealed, "data"), Err(NOTCAPABLE));
    assert_eq!(g.rename(sealed, "data", output, "data"), NOTCAPABLE);
    assert_eq!(g.link(sealed, "data", output, "data", false), NOTCAPABLE);
    assert_eq!(g.read_file(output, "data"), Err(E(errno::NOENT)));
    // A directory holding a denied entry cannot be moved to where that entry is visible.
    assert_eq!(g.rename(a, "d", b, "d"), NOTCAPABLE);
    assert_eq!(g.read_file(b, "d/secret"), Err(E(errno::NOENT)));
    // Narrowing is fine: scratch work becomes a write-only final result.
    assert_eq!(g.rename(work, "tmp", fin, "result"), 0);
    assert_eq!(admin(&vfs).read_file("/final/result").unwrap(), b"scratch");
    assert_eq!(g.read_file(fin, "result"), Err(NOTCAPABLE));
    // Linking between equally-privileged places is fine.
    g.write_file(work, "x", b"x").unwrap();
    assert_eq!(g.link(work, "x", output, "x", false), 0);
}

#[test]
fn append_only_capabilities() {
    let vfs = Vfs::default();
    admin(&vfs).write_file("/log/events", b"first\n").unwrap();
    let mut g = Guest::with(vfs.clone(), &[("/log/", "a")], WasiConfig::default());
    let d = g.preopen("/log");
    assert_eq!(
        g.open(d, "events", 0, Mode::Write),
        Err(NOTCAPABLE),
        "not in append mode"
    );
    let ro = g.open(d, "events", 0, Mode::Read).unwrap();
    assert_eq!(g.read(ro, 10), Err(NOTCAPABLE));
    assert_eq!(
        g.open(d, "events", oflags::TRUNC, Mode::Write),
        Err(NOTCAPABLE)
    );
    let fd = g
        .open_libc(d, "events", 0, Mode::Write, crate::types::fdflags::APPEND)
        .unwrap();
    g.seek(fd, 0, 0).unwrap();
    g.write(fd, b"second\n").unwrap();
    assert_eq!(g.pwrite(fd, b"X", 0), Err(NOTCAPABLE));
    assert_eq!(
        g.ctx.fd_fdstat_set_flags(&mut g.mem, fd, 0).unwrap(),
        NOTCAPABLE
    );
    assert_eq!(
        g.ctx.fd_filestat_set_size(&mut g.mem, fd, 0).unwrap(),
        NOTCAPABLE
    );
    assert_eq!(
        admin(&vfs).read_file("/log/events").unwrap(),
        b"first\nsecond\n"
    );
    // Appending may create a new file, but nothing can be removed or renamed.
    let fd = g
        .open_libc(
            d,
            "new",
            oflags::CREAT,
            Mode::Write,
            crate::types::fdflags::APPEND,
        )
        .unwrap();
    g.write(fd, b"n").unwrap();
    assert_eq!(g.unlink(d, "events"), NOTCAPABLE);
    assert_eq!(g.rename(d, "events", d, "x"), NOTCAPABLE);
}
