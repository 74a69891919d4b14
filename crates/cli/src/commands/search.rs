//! `berth search TERM`: not supported yet (Docker Hub's search API is not
//! implemented); the command says so instead of pretending.

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Max number of search results.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    pub term: String,
}

pub async fn run(a: Args) -> i32 {
    super::fail(format!(
        "berth search {}: searching registries is not supported yet",
        a.term
    ))
}
