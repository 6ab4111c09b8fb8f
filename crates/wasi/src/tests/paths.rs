//! Success and error paths of `path_open` and the other `path_*` functions.

use veracruz_vfs::Vfs;

use super::{admin, Guest, Mode, NOTCAPABLE};
use crate::types::{errno, fdflags, filetype, fstflags, oflags, rights};
use crate::WasiConfig;

const E: fn(u16) -> i32 = |e| i32::from(e);

fn guest() -> (Guest, i32) {
    let g = Guest::new(&[("/w/", "rw")]);
    let d = g.preopen("/w");
    (g, d)
}

#[test]
fn path_open_flags() {
    let (mut g, d) = guest();
    assert_eq!(g.open(d, "f", 0, Mode::Read), Err(E(errno::NOENT)));
    let fd = g
        .open(d, "f", oflags::CREAT | oflags::EXCL, Mode::Write)
        .unwrap();
    g.write(fd, b"abc").unwrap();
    assert_eq!(
        g.open(d, "f", oflags::CREAT | oflags::EXCL, Mode::Write),
        Err(E(errno::EXIST))
    );
    assert_eq!(
        g.open(d, "f", oflags::DIRECTORY, Mode::Read),
        Err(E(errno::NOTDIR))
    );
    assert_eq!(g.open(d, "f/", 0, Mode::Read), Err(E(errno::NOTDIR)));
    assert_eq!(g.open(d, "f/x", 0, Mode::Read), Err(E(errno::NOTDIR)));
    assert_eq!(
        g.open(d, "missing/x", oflags::CREAT, Mode::Write),
        Err(E(errno::NOENT))
    );
    assert_eq!(
        g.open(d, "new/", oflags::CREAT, Mode::Write),
        Err(E(errno::ISDIR))
    );
    assert_eq!(g.open(d, "", 0, Mode::Read), Err(E(errno::NOENT)));
    let t = g.open(d, "f", oflags::TRUNC, Mode::Write).unwrap();
    assert_eq!(g.fstat(t).unwrap().size, 0);
    // Directories: open for reading works, for writing or truncation does not.
    assert_eq!(g.mkdir(d, "sub"), 0);
    let sub = g.open(d, "sub", oflags::DIRECTORY, Mode::Read).unwrap();
    assert_eq!(g.fdstat(sub).unwrap().0, filetype::DIRECTORY);
    assert_eq!(g.open(d, "sub", 0, Mode::Write), Err(E(errno::ISDIR)));
    assert_eq!(
        g.open(d, "sub", oflags::TRUNC, Mode::Read),
        Err(E(errno::ISDIR))
    );
    assert_eq!(
        g.open(d, "sub", oflags::CREAT, Mode::Read),
        Err(E(errno::ISDIR))
    );
    assert_eq!(
        g.open(d, ".", oflags::DIRECTORY, Mode::Read).map(|_| ()),
        Ok(())
    );
    // An opened directory is a base for further opens.
    let inner = g.open(sub, "inner", oflags::CREAT, Mode::Write).unwrap();
    g.write(inner, b"deep").unwrap();
    assert_eq!(g.read_file(d, "sub/inner").unwrap(), b"deep");
    // Invalid flags and descriptors.
    assert_eq!(g.open(d, "f", 0x10, Mode::Read), Err(E(errno::INVAL)));
    assert_eq!(
        g.open_libc(d, "f", 0, Mode::Read, 0x20),
        Err(E(errno::INVAL))
    );
    assert_eq!(g.open(99, "f", 0, Mode::Read), Err(E(errno::BADF)));
    assert_eq!(g.open(inner, "f", 0, Mode::Read), Err(E(errno::NOTDIR)));
    // Without PATH_CREATE_FILE on the directory descriptor, O_CREAT is refused.
    let (_, _, base, inh) = g.fdstat(d).unwrap();
    g.ctx
        .fd_fdstat_set_rights(
            &mut g.mem,
            d,
            (base & !rights::PATH_CREATE_FILE) as i64,
            inh as i64,
        )
        .unwrap();
    assert_eq!(g.open(d, "g", oflags::CREAT, Mode::Write), Err(NOTCAPABLE));
}

#[test]
fn path_open_append_mode_and_symlink_follow() {
    let (mut g, d) = guest();
    g.write_file(d, "log", b"one ").unwrap();
    let fd = g
        .open_libc(d, "log", 0, Mode::Write, fdflags::APPEND)
        .unwrap();
    g.write(fd, b"two").unwrap();
    assert_eq!(g.read_file(d, "log").unwrap(), b"one two");
    assert_eq!(g.symlink("log", d, "ln"), 0);
    // Without LOOKUP_SYMLINK_FOLLOW a final symbolic link is ELOOP (O_NOFOLLOW).
    assert_eq!(
        g.open_raw(d, 0, "ln", 0, rights::FD_READ, 0, 0),
        Err(E(errno::LOOP))
    );
    assert_eq!(g.read_file(d, "ln").unwrap(), b"one two");
    // O_CREAT through a dangling link creates its target.
    assert_eq!(g.symlink("target", d, "dangling"), 0);
    let fd = g.open(d, "dangling", oflags::CREAT, Mode::Write).unwrap();
    g.write(fd, b"t").unwrap();
    assert_eq!(g.read_file(d, "target").unwrap(), b"t");
}

#[test]
fn create_and_remove_directories() {
    let (mut g, d) = guest();
    assert_eq!(g.mkdir(d, "a"), 0);
    assert_eq!(g.mkdir(d, "a/b/"), 0);
    assert_eq!(g.mkdir(d, "a"), E(errno::EXIST));
    assert_eq!(g.mkdir(d, "."), E(errno::EXIST));
    assert_eq!(g.mkdir(d, "x/y"), E(errno::NOENT));
    assert_eq!(g.mkdir(99, "z"), E(errno::BADF));
    g.write_file(d, "a/file", b"").unwrap();
    assert_eq!(g.mkdir(d, "a/file/sub"), E(errno::NOTDIR));
    assert_eq!(g.rmdir(d, "a"), E(errno::NOTEMPTY));
    assert_eq!(g.rmdir(d, "a/file"), E(errno::NOTDIR));
    assert_eq!(g.rmdir(d, "a/nothing"), E(errno::NOENT));
    assert_eq!(g.rmdir(d, "."), E(errno::INVAL));
    assert_eq!(g.rmdir(d, "a/b/.."), E(errno::INVAL));
    assert_eq!(g.rmdir(d, "a/b"), 0);
    assert_eq!(g.stat(d, "a/b", false), Err(E(errno::NOENT)));
    let st = g.stat(d, "a", false).unwrap();
    assert_eq!((st.filetype, st.nlink), (filetype::DIRECTORY, 2));
    assert_eq!(g.mkdir(d, &"n".repeat(256)), E(errno::NAMETOOLONG));
    assert_eq!(g.mkdir(d, &"a/".repeat(2100)), E(errno::NAMETOOLONG));
}

#[test]
fn unlink_files_and_links() {
    let (mut g, d) = guest();
    g.write_file(d, "f", b"x").unwrap();
    assert_eq!(g.mkdir(d, "dir"), 0);
    assert_eq!(g.unlink(d, "dir"), E(errno::ISDIR));
    assert_eq!(g.unlink(d, "f/"), E(errno::NOTDIR));
    assert_eq!(g.unlink(d, "none"), E(errno::NOENT));
    assert_eq!(g.unlink(d, "."), E(errno::ISDIR));
    // An open file survives its unlinking until closed.
    let fd = g.open(d, "f", 0, Mode::Read).unwrap();
    assert_eq!(g.unlink(d, "f"), 0);
    assert_eq!(g.stat(d, "f", false), Err(E(errno::NOENT)));
    assert_eq!(g.read(fd, 10).unwrap(), b"x");
    assert_eq!(g.fstat(fd).unwrap().nlink, 0);
    // Unlinking a symbolic link removes the link, not its target.
    g.write_file(d, "t", b"y").unwrap();
    assert_eq!(g.symlink("t", d, "l"), 0);
    assert_eq!(g.unlink(d, "l"), 0);
    assert_eq!(g.read_file(d, "t").unwrap(), b"y");
}

#[test]
fn rename_semantics() {
    let (mut g, d) = guest();
    g.write_file(d, "a", b"A").unwrap();
    g.write_file(d, "b", b"B").unwrap();
    assert_eq!(g.rename(d, "a", d, "b"), 0);
    assert_eq!(g.read_file(d, "b").unwrap(), b"A");
    assert_eq!(g.stat(d, "a", false), Err(E(errno::NOENT)));
    assert_eq!(g.rename(d, "a", d, "c"), E(errno::NOENT));
    assert_eq!(g.mkdir(d, "dir"), 0);
    assert_eq!(g.mkdir(d, "dir/sub"), 0);
    assert_eq!(g.rename(d, "b", d, "dir"), E(errno::ISDIR));
    assert_eq!(g.rename(d, "dir", d, "b"), E(errno::NOTDIR));
    assert_eq!(g.rename(d, "dir", d, "dir/sub/x"), E(errno::INVAL));
    assert_eq!(g.rename(d, ".", d, "x"), E(errno::INVAL));
    assert_eq!(g.rename(d, "b", d, "b/"), E(errno::NOTDIR));
    assert_eq!(g.mkdir(d, "empty"), 0);
    assert_eq!(g.rename(d, "dir", d, "empty"), 0);
    assert_eq!(
        g.stat(d, "empty/sub", false).unwrap().filetype,
        filetype::DIRECTORY
    );
    assert_eq!(g.mkdir(d, "full"), 0);
    g.write_file(d, "full/x", b"").unwrap();
    assert_eq!(g.rename(d, "empty", d, "full"), E(errno::NOTEMPTY));
    assert_eq!(g.rename(d, "b", d, "b"), 0);
    // Renaming into a directory opened separately, and an open directory follows its renames.
    let sub = g
        .open(d, "empty/sub", oflags::DIRECTORY, Mode::Read)
        .unwrap();
    assert_eq!(g.rename(d, "b", sub, "moved"), 0);
    assert_eq!(g.rename(d, "empty", d, "renamed"), 0);
    assert_eq!(g.read_file(sub, "moved").unwrap(), b"A");
    assert_eq!(g.read_file(d, "renamed/sub/moved").unwrap(), b"A");
    assert!(g.ctx.paths_written().contains("/w/empty/sub/moved"));
    assert!(g.ctx.paths_written().contains("/w/renamed"));
    assert_eq!(g.rename(99, "x", d, "y"), E(errno::BADF));
    assert_eq!(g.rename(d, "x", 99, "y"), E(errno::BADF));
}

#[test]
fn hard_links() {
    let (mut g, d) = guest();
    g.write_file(d, "a", b"shared").unwrap();
    assert_eq!(g.link(d, "a", d, "b", false), 0);
    let (sa, sb) = (
        g.stat(d, "a", false).unwrap(),
        g.stat(d, "b", false).unwrap(),
    );
    assert_eq!((sa.ino, sa.nlink), (sb.ino, 2));
    g.write_file(d, "b", b"changed").unwrap();
    assert_eq!(g.read_file(d, "a").unwrap(), b"changed");
    assert_eq!(g.link(d, "a", d, "b", false), E(errno::EXIST));
    assert_eq!(g.link(d, "none", d, "c", false), E(errno::NOENT));
    assert_eq!(g.mkdir(d, "dir"), 0);
    assert_eq!(g.link(d, "dir", d, "dir2", false), E(errno::PERM));
    // Following a symbolic link links its target; not following links the link itself.
    assert_eq!(g.symlink("a", d, "sl"), 0);
    assert_eq!(g.link(d, "sl", d, "via_follow", true), 0);
    assert_eq!(g.stat(d, "via_follow", false).unwrap().ino, sa.ino);
    assert_eq!(g.link(d, "sl", d, "via_nofollow", false), 0);
    assert_eq!(
        g.stat(d, "via_nofollow", false).unwrap().filetype,
        filetype::SYMBOLIC_LINK
    );
    assert_eq!(g.link(d, "a", d, "newdir/x", false), E(errno::NOENT));
}

#[test]
fn symlinks_and_readlink() {
    let (mut g, d) = guest();
    g.write_file(d, "t", b"target").unwrap();
    assert_eq!(g.symlink("t", d, "l"), 0);
    assert_eq!(g.symlink("t", d, "l"), E(errno::EXIST));
    assert_eq!(g.symlink("x", d, "none/l"), E(errno::NOENT));
    assert_eq!(g.symlink("", d, "empty"), E(errno::INVAL));
    assert_eq!(g.readlink(d, "l", 64).unwrap(), b"t");
    assert_eq!(g.symlink("a/long/target", d, "l2"), 0);
    assert_eq!(
        g.readlink(d, "l2", 6).unwrap(),
        b"a/long",
        "truncated to the buffer"
    );
    assert_eq!(g.readlink(d, "t", 64), Err(E(errno::INVAL)));
    assert_eq!(g.readlink(d, "nothing", 64), Err(E(errno::NOENT)));
    let st = g.stat(d, "l", false).unwrap();
    assert_eq!((st.filetype, st.size), (filetype::SYMBOLIC_LINK, 1));
    let st = g.stat(d, "l", true).unwrap();
    assert_eq!((st.filetype, st.size), (filetype::REGULAR_FILE, 6));
    // Relative chains inside the pre-open resolve; loops are ELOOP.
    assert_eq!(g.mkdir(d, "dir"), 0);
    assert_eq!(g.symlink("../l", d, "dir/up"), 0);
    assert_eq!(g.read_file(d, "dir/up").unwrap(), b"target");
    assert_eq!(g.symlink("dir", d, "dl"), 0);
    assert_eq!(g.read_file(d, "dl/up").unwrap(), b"target");
    assert_eq!(g.symlink("loop2", d, "loop1"), 0);
    assert_eq!(g.symlink("loop1", d, "loop2"), 0);
    assert_eq!(g.open(d, "loop1", 0, Mode::Read), Err(E(errno::LOOP)));
    assert_eq!(g.stat(d, "loop1/x", false), Err(E(errno::LOOP)));
    let end = g.mem.len() as i32;
    let (p, l) = g.str("l");
    let used = g.out(4);
    assert_eq!(
        g.ctx
            .path_readlink(&mut g.mem, d, p, l, end - 2, 10, used)
            .unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn path_filestat_and_set_times() {
    let (mut g, d) = guest();
    g.write_file(d, "f", b"12345").unwrap();
    let st = g.stat(d, "f", false).unwrap();
    assert_eq!(
        (st.filetype, st.size, st.nlink),
        (filetype::REGULAR_FILE, 5, 1)
    );
    assert_eq!(g.stat(d, ".", false).unwrap().filetype, filetype::DIRECTORY);
    assert_eq!(g.stat(d, "nope", false), Err(E(errno::NOENT)));
    assert_eq!(g.stat(99, "f", false), Err(E(errno::BADF)));
    let (p, l) = g.str("f");
    let flags = i32::from(fstflags::ATIM | fstflags::MTIM);
    assert_eq!(
        g.ctx
            .path_filestat_set_times(&mut g.mem, d, 0, p, l, 11, 22, flags)
            .unwrap(),
        0
    );
    let st = g.stat(d, "f", false).unwrap();
    assert_eq!((st.atim, st.mtim), (11, 22));
    assert_eq!(
        g.ctx
            .path_filestat_set_times(&mut g.mem, d, 0, p, l, 0, 0, 0xff)
            .unwrap(),
        E(errno::INVAL)
    );
    let (np, nl) = g.str("none");
    assert_eq!(
        g.ctx
            .path_filestat_set_times(&mut g.mem, d, 0, np, nl, 0, 0, flags)
            .unwrap(),
        E(errno::NOENT)
    );
    let end = g.mem.len() as i32;
    assert_eq!(
        g.ctx
            .path_filestat_get(&mut g.mem, d, 0, p, l, end - 8)
            .unwrap(),
        E(errno::FAULT)
    );
}

#[test]
fn files_written_by_a_program_are_seen_by_principals() {
    let vfs = Vfs::default();
    let mut g = Guest::with(vfs.clone(), &[("/output/", "w")], WasiConfig::default());
    let d = g.preopen("/output");
    g.write_file(d, "result.txt", b"42").unwrap();
    assert_eq!(admin(&vfs).read_file("/output/result.txt").unwrap(), b"42");
    assert_eq!(
        g.ctx.paths_written().iter().collect::<Vec<_>>(),
        vec!["/output/result.txt"]
    );
}
