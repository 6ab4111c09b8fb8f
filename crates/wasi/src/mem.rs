//! Bounds-checked access to guest linear memory: every pointer and length a guest passes is
//! checked against the memory's size, and a miss is `EFAULT`, never a panic.

use std::ops::Range;

use crate::types::{errno, layout};

pub(crate) type Errno = u16;

/// The byte range `[ptr, ptr + len)` if it lies inside memory.
pub(crate) fn range(mem: &[u8], ptr: u32, len: u64) -> Result<Range<usize>, Errno> {
    let start = u64::from(ptr);
    let end = start.checked_add(len).ok_or(errno::FAULT)?;
    if end > mem.len() as u64 {
        return Err(errno::FAULT);
    }
    // Both fit in usize because they are at most `mem.len()`.
    Ok(start as usize..end as usize)
}

pub(crate) fn bytes(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], Errno> {
    Ok(&mem[range(mem, ptr, u64::from(len))?])
}

pub(crate) fn bytes_mut(mem: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
    let r = range(mem, ptr, u64::from(len))?;
    Ok(&mut mem[r])
}

/// Checks that `count` structs of `size` bytes at `ptr` are inside memory.
pub(crate) fn check_array(mem: &[u8], ptr: u32, count: u32, size: u32) -> Result<(), Errno> {
    range(mem, ptr, u64::from(count) * u64::from(size)).map(|_| ())
}

pub(crate) fn get_u8(mem: &[u8], ptr: u32) -> Result<u8, Errno> {
    Ok(bytes(mem, ptr, 1)?[0])
}

pub(crate) fn get_u16(mem: &[u8], ptr: u32) -> Result<u16, Errno> {
    let b = bytes(mem, ptr, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

pub(crate) fn get_u32(mem: &[u8], ptr: u32) -> Result<u32, Errno> {
    let b = bytes(mem, ptr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn get_u64(mem: &[u8], ptr: u32) -> Result<u64, Errno> {
    let b = bytes(mem, ptr, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

pub(crate) fn put(mem: &mut [u8], ptr: u32, data: &[u8]) -> Result<(), Errno> {
    let len = u32::try_from(data.len()).map_err(|_| errno::FAULT)?;
    bytes_mut(mem, ptr, len)?.copy_from_slice(data);
    Ok(())
}

pub(crate) fn put_u32(mem: &mut [u8], ptr: u32, v: u32) -> Result<(), Errno> {
    put(mem, ptr, &v.to_le_bytes())
}

pub(crate) fn put_u64(mem: &mut [u8], ptr: u32, v: u64) -> Result<(), Errno> {
    put(mem, ptr, &v.to_le_bytes())
}

/// A guest string (path or link target): in memory, at most `max` bytes, valid UTF-8.
pub(crate) fn string(mem: &[u8], ptr: u32, len: u32, max: usize) -> Result<String, Errno> {
    let b = bytes(mem, ptr, len)?;
    if b.len() > max {
        return Err(errno::NAMETOOLONG);
    }
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|_| errno::ILSEQ)
}

/// The `(buf, buf_len)` pairs of an iovec array, each checked to lie inside memory, and their
/// total length. Checking everything first means a bad vector fails before any side effect.
pub(crate) fn iovecs(mem: &[u8], iovs: u32, count: u32) -> Result<(Vec<(u32, u32)>, u64), Errno> {
    check_array(mem, iovs, count, layout::IOVEC)?;
    // The vector's own size is bounded by guest memory (8 guest bytes per entry).
    let mut out = Vec::with_capacity(count as usize);
    let mut total = 0u64;
    for i in 0..count {
        let at = iovs + i * layout::IOVEC;
        let buf = get_u32(mem, at)?;
        let len = get_u32(mem, at + 4)?;
        range(mem, buf, u64::from(len))?;
        total += u64::from(len);
        out.push((buf, len));
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_efault() {
        let mut mem = vec![0u8; 16];
        assert_eq!(range(&mem, 16, 0), Ok(16..16));
        assert_eq!(range(&mem, 16, 1), Err(errno::FAULT));
        assert_eq!(range(&mem, u32::MAX, u64::MAX), Err(errno::FAULT));
        assert_eq!(get_u64(&mem, 9), Err(errno::FAULT));
        assert_eq!(put_u32(&mut mem, 13, 1), Err(errno::FAULT));
        assert_eq!(check_array(&mem, 0, 3, 8), Err(errno::FAULT));
        put_u32(&mut mem, 0, 8).unwrap();
        put_u32(&mut mem, 4, 100).unwrap();
        assert_eq!(iovecs(&mem, 0, 1), Err(errno::FAULT));
        assert_eq!(string(&[0xff], 0, 1, 10), Err(errno::ILSEQ));
        assert_eq!(string(b"abc", 0, 3, 2), Err(errno::NAMETOOLONG));
    }
}
