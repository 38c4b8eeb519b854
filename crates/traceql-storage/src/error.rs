//! Storage errors: each names the file or object it is about.

use crate::otlp::DecodeError;

/// Everything that can go wrong reading, writing or managing span blocks.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An OTLP input that does not decode.
    #[error("{input}: {error}")]
    Decode {
        /// The file or stream.
        input: String,
        /// What is wrong, and where inside it.
        error: DecodeError,
    },
    /// A local file that cannot be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// An object store operation that failed.
    #[error("{path}: {error}")]
    ObjectStore {
        /// The object or prefix.
        path: String,
        /// The underlying error.
        error: object_store::Error,
    },
    /// A Parquet file that cannot be written or read.
    #[error("{path}: {error}")]
    Parquet {
        /// The file.
        path: String,
        /// The underlying error.
        error: parquet::errors::ParquetError,
    },
    /// Arrow data that does not fit the block schema.
    #[error("{path}: {error}")]
    Arrow {
        /// The file.
        path: String,
        /// The underlying error.
        error: arrow::error::ArrowError,
    },
    /// A block whose files are not what a block must be.
    #[error("{path}: {message}")]
    InvalidBlock {
        /// The block's file or folder.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A storage URL that cannot be used.
    #[error("invalid storage URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        message: String,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<String>, error: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn store(path: impl ToString, error: object_store::Error) -> Self {
        StorageError::ObjectStore {
            path: path.to_string(),
            error,
        }
    }

    pub(crate) fn parquet(path: impl ToString, error: parquet::errors::ParquetError) -> Self {
        StorageError::Parquet {
            path: path.to_string(),
            error,
        }
    }

    pub(crate) fn invalid_block(path: impl ToString, message: impl Into<String>) -> Self {
        StorageError::InvalidBlock {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Results of storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
