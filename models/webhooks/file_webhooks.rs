//! File and media processing services.

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// Cloudinary image upload (`POST /v1_1/{cloud}/image/upload`, as Cloudinary's Upload API
/// reference defines it): multipart with the file in the `file` part, Basic `api_key:api_secret`.
/// Accounts in dynamic folder mode (every account created since 2024) place assets with
/// `asset_folder`; `folder` is for accounts still in fixed folder mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.cloudinary.com/v1_1/{CLOUD_NAME}/image/upload",
    method = "POST",
    auth = "Basic {CLOUDINARY_API_KEY}:{CLOUDINARY_API_SECRET}",
    file_upload = true,
    timeout = "120s",
    response = CloudinaryUploadResponse,
    error = CloudinaryError
)]
pub struct CloudinaryUpload {
    /// The image's bytes (the `file` part).
    #[serde(rename = "file")]
    pub file_data: Vec<u8>,
    /// The asset's id; Cloudinary picks a random one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_id: Option<String>,
    /// The folder the asset is shown in (dynamic folder mode): it does not change its public id
    /// or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_folder: Option<String>,
    /// The asset's name in the Media Library (dynamic folder mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Fixed folder mode only (deprecated under dynamic folders, where `asset_folder` replaces
    /// it): the folder, which becomes part of the public id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// An incoming transformation, such as `c_limit,w_2000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation: Option<String>,
    /// Comma-separated tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
}

/// ImageKit upload (`POST /api/v1/files/upload`): multipart with the file in the `file` part,
/// camelCase fields, Basic with the private key and an empty password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://upload.imagekit.io/api/v1/files/upload",
    method = "POST",
    auth = "Basic {IMAGEKIT_PRIVATE_KEY}:",
    file_upload = true,
    timeout = "120s",
    response = ImageKitUploadResponse,
    error = ImageKitError
)]
#[serde(rename_all = "camelCase")]
pub struct ImageKitUpload {
    /// The file's bytes.
    pub file: Vec<u8>,
    /// The stored file's name (`fileName`).
    pub file_name: String,
    /// The folder, such as `/products`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Comma-separated tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Whether ImageKit appends a suffix to avoid overwriting (`useUniqueFileName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_unique_file_name: Option<bool>,
    /// Whether the file needs a signed URL to read (`isPrivateFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private_file: Option<bool>,
}

/// A video transcoding job on a cloud FFmpeg service, which calls `callback_url` when done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.video-service.com/v1/transcode",
    method = "POST",
    auth = "Bearer {VIDEO_SERVICE_TOKEN}",
    timeout = "5m",
    idempotency_header = "Idempotency-Key"
)]
pub struct VideoTranscode {
    /// Where the service fetches the source video.
    pub input_url: String,
    /// The container to produce, such as `mp4`.
    pub output_format: String,
    /// A quality preset, such as `1080p`.
    pub quality: String,
    /// Where the service sends the result.
    pub callback_url: String,
}

/// Cloudinary's answer to `CloudinaryUpload` (Upload API): the stored asset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudinaryUploadResponse {
    /// The asset's immutable id.
    pub asset_id: String,
    /// Its public id, which its URLs use.
    pub public_id: String,
    /// Its version (the Unix second it was uploaded; `u32` holds them until 2106).
    pub version: u32,
    /// `image`, `video` or `raw`.
    pub resource_type: String,
    /// Its format (`jpg`); raw files have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Its size in bytes: a JSON number, exact as an integer up to 2^53 (so is Elm's `Float`),
    /// where `u32` would stop at 4 GiB.
    pub bytes: f64,
    /// Its width, for images and videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Its height, for images and videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Its HTTP URL.
    pub url: String,
    /// Its HTTPS URL.
    pub secure_url: String,
    /// Its folder (dynamic folder mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_folder: Option<String>,
    /// Its name in the Media Library (dynamic folder mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// How Cloudinary refuses a request (`{"error": {"message": "..."}}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudinaryError {
    /// The refusal.
    pub error: CloudinaryErrorMessage,
}

/// The inside of a Cloudinary refusal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudinaryErrorMessage {
    /// A message for people.
    pub message: String,
}

/// ImageKit's answer to `ImageKitUpload`: the stored file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageKitUploadResponse {
    /// The file's id (`fileId`).
    pub file_id: String,
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its path, folder included (`filePath`).
    pub file_path: String,
    /// Its size in bytes: a JSON number, exact as an integer up to 2^53 (so is Elm's `Float`),
    /// where `u32` would stop at 4 GiB.
    pub size: f64,
    /// `image` or `non-image` (`fileType`).
    pub file_type: String,
    /// Its thumbnail's URL (`thumbnailUrl`), for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Its width, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Its height, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// How ImageKit refuses a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageKitError {
    /// A message for people.
    pub message: String,
    /// A hint at the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}
