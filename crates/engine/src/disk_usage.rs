//! `GET /system/df` (`docker system df`): what images, containers and
//! volumes hold on disk. One use case over three services, computed on the
//! blocking pool (it walks directory trees), its errors returned.

use berth_api::container::ContainerSummary;
use berth_image::ImageInfo;

use crate::container::ListOptions;
use crate::fsutil::{blocking, dir_size};
use crate::volumes::Volume;
use crate::Engine;
use crate::Error;

/// An image and how many containers use it.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: ImageInfo,
    pub containers: usize,
}

/// A container and the bytes in its writable layer.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub container: ContainerSummary,
    pub size_rw: u64,
}

/// A volume, the bytes in it, and how many containers use it.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: Volume,
    pub size: u64,
    pub ref_count: usize,
}

/// The whole answer.
#[derive(Debug, Clone)]
pub struct DiskUsage {
    /// The images' sizes added up.
    pub layers_size: u64,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

impl Engine {
    /// What images, containers and volumes hold on disk.
    pub async fn disk_usage(&self) -> Result<DiskUsage, Error> {
        let engine = self.clone();
        blocking(move || {
            let all = ListOptions {
                all: true,
                ..Default::default()
            };
            let containers = engine.containers.list(&all)?;
            let images = engine.images.store().list()?;
            let root = engine.config.paths.containers_root();
            let layers_size = images.iter().map(|i| i.size).sum();
            let images = images
                .into_iter()
                .map(|image| {
                    let users = containers.iter().filter(|c| c.image_id == image.id);
                    ImageUsage {
                        containers: users.count(),
                        image,
                    }
                })
                .collect();
            let containers = containers
                .into_iter()
                .map(|container| ContainerUsage {
                    size_rw: dir_size(&root.join(&container.id).join("upper")),
                    container,
                })
                .collect();
            let volumes = engine
                .volumes
                .list()?
                .into_iter()
                .map(|volume| VolumeUsage {
                    size: dir_size(std::path::Path::new(&volume.mountpoint)),
                    ref_count: engine.volumes.users(&volume.name).len(),
                    volume,
                })
                .collect();
            Ok(DiskUsage {
                layers_size,
                images,
                containers,
                volumes,
            })
        })
        .await
    }
}
