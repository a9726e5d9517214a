//! The `GLIBC_` symbol versions an ELF64 binary needs, read from its `.gnu.version_r` section
//! (SHT_GNU_verneed) — what the dynamic loader checks against the host's glibc. Std only.

use anyhow::{bail, Context, Result};

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    let s = b.get(off..off + 2).context("truncated ELF file")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    let s = b.get(off..off + 4).context("truncated ELF file")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64> {
    let s = b.get(off..off + 8).context("truncated ELF file")?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

fn usize_at(b: &[u8], off: usize) -> Result<usize> {
    usize::try_from(u64_at(b, off)?).context("ELF offset does not fit")
}

fn cstr(b: &[u8], off: usize) -> Result<&str> {
    let tail = b
        .get(off..)
        .context("string offset past the end of the file")?;
    let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
    std::str::from_utf8(&tail[..end]).context("version name is not UTF-8")
}

/// Every version the binary requires from any library (`GLIBC_2.17`, `GCC_3.0`, …), sorted.
pub fn needed_versions(bytes: &[u8]) -> Result<Vec<String>> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        bail!("not an ELF file");
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!("only 64-bit little-endian ELF files are supported");
    }
    let shoff = usize_at(bytes, 0x28)?;
    let shentsize = usize::from(u16_at(bytes, 0x3a)?);
    let shnum = usize::from(u16_at(bytes, 0x3c)?);
    let section = |i: usize| -> Result<(u32, usize, usize, usize, usize)> {
        let h = shoff + i * shentsize;
        Ok((
            u32_at(bytes, h + 4)?,             // sh_type
            usize_at(bytes, h + 0x18)?,        // sh_offset
            usize_at(bytes, h + 0x20)?,        // sh_size
            u32_at(bytes, h + 0x28)? as usize, // sh_link
            u32_at(bytes, h + 0x2c)? as usize, // sh_info (number of entries)
        ))
    };
    let mut out = Vec::new();
    for i in 0..shnum {
        let (kind, off, _size, link, count) = section(i)?;
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let (_, strtab, _, _, _) = section(link)?;
        let mut entry = off;
        for _ in 0..count {
            let cnt = usize::from(u16_at(bytes, entry + 2)?);
            let mut aux = entry + u32_at(bytes, entry + 8)? as usize;
            for _ in 0..cnt {
                let name = u32_at(bytes, aux + 8)? as usize;
                out.push(cstr(bytes, strtab + name)?.to_owned());
                let next = u32_at(bytes, aux + 12)? as usize;
                if next == 0 {
                    break;
                }
                aux += next;
            }
            let next = u32_at(bytes, entry + 12)? as usize;
            if next == 0 {
                break;
            }
            entry += next;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `GLIBC_2.34` → `[2, 34]`; `None` for other names.
pub fn glibc_version(name: &str) -> Option<Vec<u32>> {
    let v = name.strip_prefix("GLIBC_")?;
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// The highest `GLIBC_` version among `names` (`None` when there is none).
pub fn highest_glibc(names: &[String]) -> Option<(String, Vec<u32>)> {
    names
        .iter()
        .filter_map(|n| glibc_version(n).map(|v| (n.clone(), v)))
        .max_by(|a, b| a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let names: Vec<String> = ["GLIBC_2.9", "GLIBC_2.34", "GLIBC_2.2.5", "GCC_3.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (name, v) = highest_glibc(&names).unwrap();
        assert_eq!(name, "GLIBC_2.34");
        assert_eq!(v, vec![2, 34]);
        assert!(glibc_version("GLIBC_2.35").unwrap() > glibc_version("GLIBC_2.34").unwrap());
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
    }

    #[test]
    fn the_versions_of_a_real_binary_are_read() {
        // xtask itself is a dynamically linked glibc binary.
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(exe).unwrap();
        let names = needed_versions(&bytes).unwrap();
        let (name, v) = highest_glibc(&names).expect("a glibc-linked binary");
        assert!(name.starts_with("GLIBC_2."), "{names:?}");
        assert!(v >= vec![2, 2], "{names:?}");
    }

    #[test]
    fn a_file_that_is_not_elf_is_refused() {
        assert!(needed_versions(b"#!/bin/sh\n").is_err());
        assert!(needed_versions(b"\x7fELF\x02\x01").is_err());
    }
}
