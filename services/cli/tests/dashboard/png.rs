//! Just enough PNG to read a browser's screenshot: 8-bit RGB or RGBA, not interlaced (what
//! Chromium writes). Inflate is miniz_oxide, already in the lock file (apache-avro uses it), so
//! the test adds no crate.

use miniz_oxide::inflate::decompress_to_vec_zlib;

pub struct Image {
    pub width: usize,
    pub height: usize,
    /// RGB, row by row.
    pub rgb: Vec<[u8; 3]>,
}

impl Image {
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }
}

pub fn decode(bytes: &[u8]) -> Result<Image, String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let mut rest = bytes
        .strip_prefix(SIGNATURE)
        .ok_or("not a PNG (signature)")?;
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut compressed = Vec::new();
    while rest.len() >= 12 {
        let length = be_u32(&rest[0..4]) as usize;
        let kind = &rest[4..8];
        // The chunk's data and its CRC (not checked).
        let data = rest.get(8..8 + length).ok_or("truncated chunk")?;
        let next = rest.get(12 + length..).ok_or("truncated chunk (CRC)")?;
        match kind {
            b"IHDR" => {
                let header = data.get(..13).ok_or("short IHDR")?;
                width = be_u32(&header[0..4]) as usize;
                height = be_u32(&header[4..8]) as usize;
                let (depth, colour, interlace) = (header[8], header[9], header[12]);
                channels = match colour {
                    2 => 3,
                    6 => 4,
                    other => return Err(format!("colour type {other} not supported")),
                };
                if depth != 8 || interlace != 0 {
                    return Err(format!(
                        "bit depth {depth}, interlace {interlace}: not supported"
                    ));
                }
            }
            b"IDAT" => compressed.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        rest = next;
    }
    if width == 0 || height == 0 {
        return Err("no IHDR".into());
    }
    let raw = decompress_to_vec_zlib(&compressed).map_err(|e| format!("inflate: {e:?}"))?;
    let stride = width * channels;
    if Some(raw.len()) != height.checked_mul(stride + 1) {
        return Err(format!(
            "{} bytes of image data for {width}x{height}x{channels}",
            raw.len()
        ));
    }
    let mut pixels = vec![0u8; height * stride];
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for i in 0..stride {
            let left = if i >= channels {
                pixels[y * stride + i - channels]
            } else {
                0
            };
            let up = if y > 0 {
                pixels[(y - 1) * stride + i]
            } else {
                0
            };
            let up_left = if y > 0 && i >= channels {
                pixels[(y - 1) * stride + i - channels]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => paeth(left, up, up_left),
                other => return Err(format!("filter {other} on row {y}")),
            };
            pixels[y * stride + i] = line[i].wrapping_add(predicted);
        }
    }
    let rgb = pixels
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok(Image { width, height, rgb })
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0; 4]); // the CRC is not checked
        out
    }

    /// A 2x5 RGB image, one row per filter (None, Sub, Up, Average, Paeth).
    const WANT: [[u8; 6]; 5] = [
        [10, 20, 30, 40, 50, 60],
        [11, 21, 31, 41, 51, 61],
        [12, 22, 32, 42, 52, 62],
        [13, 23, 33, 43, 53, 63],
        [200, 100, 0, 250, 5, 9],
    ];

    /// WANT as a PNG encoder filters it, worked out by hand from the PNG specification (section
    /// 9), not by this file's predictor: each row's filter byte, then each byte minus its
    /// prediction. The Paeth row picks `a` (x=1 red), `b` (x=0 red) and `c` (x=1 blue).
    const FILTERED: [[u8; 7]; 5] = [
        [0, 10, 20, 30, 40, 50, 60],
        [1, 11, 21, 31, 30, 30, 30],
        [2, 1, 1, 1, 1, 1, 1],
        [3, 7, 12, 17, 16, 16, 16],
        [4, 187, 77, 223, 50, 161, 232],
    ];

    fn png(ihdr: &[u8], raw: &[u8]) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", ihdr));
        png.extend(chunk(
            b"IDAT",
            &miniz_oxide::deflate::compress_to_vec_zlib(raw, 6),
        ));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    fn rgb_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        ihdr
    }

    #[test]
    fn every_filter_is_undone() {
        let image = decode(&png(&rgb_header(2, 5), FILTERED.as_flattened())).unwrap();
        assert_eq!((image.width, image.height), (2, 5));
        for (y, row) in WANT.iter().enumerate() {
            assert_eq!(image.pixel(0, y), [row[0], row[1], row[2]], "row {y}");
            assert_eq!(image.pixel(1, y), [row[3], row[4], row[5]], "row {y}");
        }
    }

    #[test]
    fn what_is_not_a_whole_png_is_an_error_not_a_panic() {
        let whole = png(&rgb_header(2, 5), FILTERED.as_flattened());
        assert!(decode(b"GIF89a").is_err());
        for cut in [8, 12, 20, 30, whole.len() - 13] {
            assert!(decode(&whole[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&png(&[0, 0, 0, 2], &[])).is_err(), "short IHDR");
        let huge = png(&rgb_header(u32::MAX, u32::MAX), FILTERED.as_flattened());
        assert!(decode(&huge).is_err(), "dimensions past memory");
    }
}
