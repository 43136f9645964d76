//! Why a photo was refused or could not be stored.

use std::path::PathBuf;

/// Everything that can stop a photo from becoming evidence. Every variant's
/// message is meant to be shown to the person who submitted the file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file has no bytes at all.
    #[error("empty file: the upload contains no data")]
    Empty,
    /// The file is larger than the configured byte limit.
    #[error("file too large: {bytes} bytes, the limit is {limit} bytes")]
    TooManyBytes {
        /// Size of the input.
        bytes: u64,
        /// Configured limit.
        limit: u64,
    },
    /// The header announces more pixels than the configured limit
    /// (refused before any pixel memory is allocated).
    #[error("image too large: {width}×{height} px is over the limit of {limit} pixels")]
    TooManyPixels {
        /// Width from the header.
        width: u64,
        /// Height from the header.
        height: u64,
        /// Configured limit in pixels.
        limit: u64,
    },
    /// Decoding the image would need more memory than the configured limit
    /// (estimated from the header, before any pixel buffer is allocated).
    #[error("image too large to process: this {what} of {width}×{height} px needs about {needed_mb} MB to decode and resize, the limit is {limit_mb} MB; send it at a lower resolution (a 12 MP JPEG needs about 50 MB)")]
    TooMuchMemory {
        /// What the file is ("progressive JPEG", "16-bit RGBA PNG", …).
        what: String,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Estimated need, MB.
        needed_mb: u64,
        /// Configured limit, MB.
        limit_mb: u64,
    },
    /// The bytes are not an image in any format we recognise.
    #[error("not an image: the file is not JPEG, PNG or WebP")]
    NotAnImage,
    /// A recognised image format that the pipeline does not decode.
    #[error("unsupported format {format}: {hint}")]
    Unsupported {
        /// Name of the detected format.
        format: &'static str,
        /// What the user can do about it.
        hint: &'static str,
    },
    /// The file claims a supported format but is truncated or malformed.
    #[error("damaged {format} file (truncated or corrupt): {detail}")]
    Corrupt {
        /// The format the file claimed to be.
        format: &'static str,
        /// The decoder's own words.
        detail: String,
    },
    /// The input path is not a regular file (a FIFO, device, socket or
    /// directory): refused before it is opened, so a FIFO cannot hang us.
    #[error("not a photo file: {path} is a {kind}, only regular files are read")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead ("FIFO", "character device", …).
        kind: &'static str,
    },
    /// An option is out of its allowed range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Encoding the stored JPEG failed (should not happen for valid input).
    #[error("could not encode the stored photo: {0}")]
    Encode(String),
    /// Resizing failed (should not happen for valid input).
    #[error("could not resize the photo: {0}")]
    Resize(String),
    /// Reading the input or writing the output failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", …).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl MediaError {
    /// True when the input itself was refused (as opposed to an I/O or
    /// internal failure); the CLI maps this to its "refused" exit code.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            MediaError::Io { .. } | MediaError::Encode(_) | MediaError::Resize(_)
        )
    }
}
