//! The JSON error body every Engine API error carries.

use serde::{Deserialize, Serialize};

/// `{"message": "..."}`, as Docker answers every failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}
