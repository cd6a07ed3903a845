//! Builder's shard rule (`reference/habitat.md` §5.3): a name (origin, account) lives in shard
//! `FNV-1a-64(name) % 128`; a row id carries its shard in its low 13 bits.

use serde::{Deserialize, Serialize};

/// Shards of a sharded Builder database.
pub const SHARD_COUNT: u32 = 128;

/// FNV-1a, 64 bits, as the `fnv` crate's `FnvHasher` computes it over the bytes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The shard of an origin or account name.
pub fn shard_of_name(name: &str) -> u32 {
    (fnv1a64(name.as_bytes()) % u64::from(SHARD_COUNT)) as u32
}

/// The shard a Builder id was created in (`id & 0x1FFF`).
pub fn shard_of_id(id: u64) -> u32 {
    (id & 0x1FFF) as u32
}

/// What the locator found for what was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Located {
    pub input: String,
    pub shard: u32,
    /// How: "name" (FNV-1a-64 mod 128) or "id" (low 13 bits).
    pub rule: String,
    /// An id whose low bits name a shard beyond the 128 in use is not a Builder id.
    pub warning: Option<String>,
}

/// Why the locator cannot place what was typed: input the person can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("Type an origin or account name (core), or a numeric id.")]
    Empty,
    #[error("{0} is larger than a 64-bit id")]
    TooLarge(String),
}

/// Why a shard list names no shards of this database: input the person can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardsError {
    #[error("`{0}` is not a shard number: write all, 30, 1,2,5 or 0-15")]
    NotANumber(String),
    /// `shard` is not below `count`.
    #[error("shard {shard} does not exist: this database has shards 0 to {}", count.saturating_sub(1))]
    NoSuchShard { shard: u32, count: u32 },
    /// `part` (`a-b`) has `a` after `b`.
    #[error("the range {part} runs backwards: write {b}-{a}")]
    Backwards { part: String, a: u32, b: u32 },
    #[error("no shard named: write all, 30, 1,2,5 or 0-15")]
    NoneNamed,
    /// A shard other than 0 named on a database that keeps everything in one schema.
    #[error("this database is not sharded (everything is in {schema}): target all")]
    NotSharded { schema: String },
}

/// A name, or a number read as a Builder id.
pub fn locate(input: &str) -> Result<Located, LocateError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(LocateError::Empty);
    }
    if input.chars().all(|c| c.is_ascii_digit()) {
        let id: u64 = input
            .parse()
            .map_err(|_| LocateError::TooLarge(input.to_owned()))?;
        let shard = shard_of_id(id);
        let warning = (shard >= SHARD_COUNT).then(|| {
            format!("its low 13 bits are {shard}, beyond shard_127: is this a Builder row id?")
        });
        return Ok(Located {
            input: input.to_owned(),
            shard,
            rule: "id".into(),
            warning,
        });
    }
    Ok(Located {
        input: input.to_owned(),
        shard: shard_of_name(input),
        rule: "name".into(),
        warning: None,
    })
}

/// Which shards a query runs on, as typed: `all`, `30`, `1,2,5`, `0-15`, or a mix.
pub fn parse_shards(text: &str, count: u32) -> Result<Vec<u32>, ShardsError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("all") {
        return Ok((0..count).collect());
    }
    let mut out = Vec::new();
    let number = |s: &str| -> Result<u32, ShardsError> {
        let s = s.trim().trim_start_matches("shard_");
        let n: u32 = s
            .parse()
            .map_err(|_| ShardsError::NotANumber(s.to_owned()))?;
        if n >= count {
            return Err(ShardsError::NoSuchShard { shard: n, count });
        }
        Ok(n)
    };
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(ShardsError::Backwards {
                        part: part.to_owned(),
                        a,
                        b,
                    });
                }
                out.extend(a..=b);
            }
            None => out.push(number(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(ShardsError::NoneNamed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_of_the_reference() {
        assert_eq!(fnv1a64(b"core"), 0x0bf2_fb91_1980_759e);
        assert_eq!(shard_of_name("core"), 30);
        assert_eq!(shard_of_name("habitat"), 80);
        assert_eq!(shard_of_name("chef"), 21);
        assert_eq!(shard_of_id(730_632_763_933_204_510), 30);
        assert_eq!(locate("730632763933204510").unwrap().shard, 30);
        assert_eq!(locate(" core ").unwrap().rule, "name");
        assert!(locate("8191").unwrap().warning.is_some());
        assert!(locate("").is_err());
    }

    #[test]
    fn shard_lists() {
        assert_eq!(parse_shards("all", 128).unwrap().len(), 128);
        assert_eq!(parse_shards("5, 1,shard_2", 128).unwrap(), vec![1, 2, 5]);
        assert_eq!(parse_shards("0-3,2", 128).unwrap(), vec![0, 1, 2, 3]);
        assert!(parse_shards("128", 128).is_err());
        assert!(parse_shards("3-1", 128).is_err());
        assert!(parse_shards("x", 128).is_err());
        assert_eq!(parse_shards("all", 1).unwrap(), vec![0]);
    }
}
