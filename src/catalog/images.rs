//! Product images: format detection from the bytes, storage under MEDIA_DIR.

use std::path::PathBuf;

use crate::error::AppError;
use crate::random::random_token;

/// The folder under MEDIA_DIR (and under /media) that holds product images.
pub(crate) const PRODUCTS_FOLDER: &str = "products";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageFormat {
    Png,
    Jpeg,
    WebP,
    Gif,
}

impl ImageFormat {
    /// What the bytes are, whatever the file name or declared type claim.
    pub(crate) fn detect(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::WebP)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageFormat::Gif)
        } else {
            None
        }
    }

    /// The extension the stored file gets; /media serves its Content-Type from it.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::WebP => "webp",
            ImageFormat::Gif => "gif",
        }
    }
}

/// Where product images are stored (MEDIA_DIR) and the largest one accepted.
#[derive(Debug, Clone)]
pub(crate) struct Images {
    media_dir: PathBuf,
    max_bytes: usize,
}

impl Images {
    pub(crate) fn new(media_dir: PathBuf, max_bytes: usize) -> Self {
        Images {
            media_dir,
            max_bytes,
        }
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Writes the image under a random name; returns its path relative to MEDIA_DIR.
    pub(crate) async fn store(
        &self,
        bytes: Vec<u8>,
        format: ImageFormat,
    ) -> Result<String, AppError> {
        let relative = format!(
            "{PRODUCTS_FOLDER}/{}.{}",
            random_token(),
            format.extension()
        );
        let path = self.media_dir.join(&relative);
        let folder = self.media_dir.join(PRODUCTS_FOLDER);
        tokio::fs::create_dir_all(&folder)
            .await
            .map_err(|e| AppError::internal(format!("create {}: {e}", folder.display())))?;
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| AppError::internal(format!("write {}: {e}", path.display())))?;
        Ok(relative)
    }

    /// Removes a stored image; a file already gone is fine.
    pub(crate) async fn remove(&self, relative: &str) {
        let path: PathBuf = self.media_dir.join(relative);
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an old image");
        }
    }
}

/// The URL clients load an image from.
pub(crate) fn url(relative: &str) -> String {
    format!("/media/{relative}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_magic_bytes() {
        assert_eq!(
            ImageFormat::detect(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::detect(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::detect(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::WebP)
        );
        assert_eq!(ImageFormat::detect(b"GIF89a..."), Some(ImageFormat::Gif));
        assert_eq!(ImageFormat::detect(b"<svg xmlns=...>"), None);
        assert_eq!(ImageFormat::detect(b""), None);
    }
}
