//! `berth save`.

use std::io::IsTerminal;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to a file instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return super::fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let stream = match client.image_save(&args.images).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    match &args.output {
        None => match super::copy_stream(stream, &mut tokio::io::stdout()).await {
            Ok(()) => 0,
            Err(e) => super::fail(e),
        },
        Some(path) => {
            // Written next to the target and renamed, so a failure leaves no
            // half-written archive under the requested name.
            let tmp = format!("{path}.berth-tmp");
            let result = async {
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| format!("open {tmp}: {e}"))?;
                super::copy_stream(stream, &mut f).await?;
                f.sync_all().await.map_err(|e| e.to_string())?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .map_err(|e| format!("rename to {path}: {e}"))
            }
            .await;
            match result {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    super::fail(e)
                }
            }
        }
    }
}
