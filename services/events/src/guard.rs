//! A bounds check of an Avro datum before apache-avro decodes it.
//!
//! The Avro reader allocates what a length prefix asks for before reading the data behind it:
//! a string or bytes length up to 512 MiB, and room for an array's item count (up to 512 Mi
//! items of a 56-byte value). A corrupt or hostile 11-byte payload can therefore abort the
//! process on a failed allocation, and the dead-letter path exists precisely to survive bad
//! payloads. This walk reads the datum with the schema without allocating, and refuses any
//! length that is larger than the bytes left, a union branch that does not exist, a truncated
//! value, or trailing bytes.
//!
//! An item count is bounded by the bytes left because every item type our schemas put in
//! arrays and maps occupies at least one byte.

use apache_avro::{
    schema::{ArraySchema, FixedSchema, MapSchema, RecordSchema},
    Schema,
};

/// Checks that `datum` is exactly one well-formed value of `schema`, as far as lengths go.
pub(crate) fn check_datum(schema: &Schema, datum: &[u8]) -> Result<(), String> {
    let mut cursor = Cursor { rest: datum };
    cursor.value(schema)?;
    match cursor.rest.len() {
        0 => Ok(()),
        n => Err(format!("{n} trailing bytes after the datum")),
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn value(&mut self, schema: &Schema) -> Result<(), String> {
        match schema {
            Schema::Null => Ok(()),
            Schema::Boolean => self.skip(1),
            Schema::Int | Schema::Date | Schema::TimeMillis | Schema::Enum(_) => {
                let v = self.varint()?;
                i32::try_from(v)
                    .map(drop)
                    .map_err(|_| format!("int out of range: {v}"))
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.varint().map(drop),
            Schema::Float => self.skip(4),
            Schema::Double => self.skip(8),
            Schema::Bytes | Schema::String => {
                let len = self.length()?;
                self.skip(len)
            }
            Schema::Fixed(FixedSchema { size, .. }) => self.skip(*size),
            Schema::Array(ArraySchema { items, .. }) => self.blocks(|c| c.value(items)),
            Schema::Map(MapSchema { types, .. }) => self.blocks(|c| {
                c.value(&Schema::String)?;
                c.value(types)
            }),
            Schema::Union(union) => {
                let index = self.varint()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| format!("union branch {index} does not exist"))?;
                self.value(branch)
            }
            Schema::Record(RecordSchema { fields, .. }) => fields.iter().try_for_each(|field| {
                self.value(&field.schema)
                    .map_err(|e| format!("field {}: {e}", field.name))
            }),
            // Not used by our schemas; refusing them keeps this check honest. A schema that
            // starts using one fails the round-trip tests until it is handled here.
            other => Err(format!(
                "schema type {other} is not supported by the bounds check"
            )),
        }
    }

    /// Array and map items come in blocks: a count, then that many items, until a count of 0.
    /// A negative count is followed by the block's size in bytes (which we do not need).
    fn blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let count = self.varint()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.varint()?;
            }
            let count = count.unsigned_abs();
            if count > self.rest.len() as u64 {
                return Err(format!(
                    "block of {count} items but only {} bytes left",
                    self.rest.len()
                ));
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }

    fn length(&mut self) -> Result<usize, String> {
        let len = self.varint()?;
        usize::try_from(len).map_err(|_| format!("negative length {len}"))
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.rest.len() {
            return Err(format!(
                "truncated: need {n} bytes, {} left",
                self.rest.len()
            ));
        }
        self.rest = &self.rest[n..];
        Ok(())
    }

    /// A zig-zag varint: 7 bits per byte, low group first, at most 10 bytes for 64 bits.
    fn varint(&mut self) -> Result<i64, String> {
        let mut raw: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        if self.rest.len() < 10 {
            Err("truncated: varint runs past the end".to_string())
        } else {
            Err("varint longer than 10 bytes".to_string())
        }
    }
}
