//! `callscope auth`: make and revoke credentials in the access file.

use std::path::PathBuf;
use std::process::ExitCode;

use super::auth::{AccessFile, Role};

/// Where the access file is.
#[derive(Debug, clap::Args)]
pub struct FileArg {
    /// The access file (created 0600 if missing); give it to `serve --auth`.
    #[arg(
        long,
        env = "CALLSCOPE_AUTH",
        default_value = "./callscope-access.toml"
    )]
    pub file: PathBuf,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// The `auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Make a bearer token for a role and print it (shown this once; only
    /// its hash is kept).
    AddToken {
        /// ingest, agent, supervisor, qa, compliance or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// For an agent: the agent id whose calls it may see.
        #[arg(long, required_if_eq("role", "agent"))]
        agent_id: Option<String>,
        /// A label for logs and `auth list` (default: ROLE-AGENT or ROLE-N).
        #[arg(long)]
        name: Option<String>,
        /// The access file.
        #[command(flatten)]
        file: FileArg,
    },
    /// Register a client certificate (PEM) for a role (mutual TLS; the
    /// server also needs `--client-ca`).
    AddCert {
        /// The client's certificate, PEM.
        #[arg(long)]
        cert: PathBuf,
        /// ingest, agent, supervisor, qa, compliance or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// For an agent: the agent id whose calls it may see.
        #[arg(long, required_if_eq("role", "agent"))]
        agent_id: Option<String>,
        /// A label for logs and `auth list`.
        #[arg(long)]
        name: String,
        /// The access file.
        #[command(flatten)]
        file: FileArg,
    },
    /// List the entries (names, roles, agent ids; no secrets).
    List {
        /// The access file.
        #[command(flatten)]
        file: FileArg,
    },
    /// Remove an entry by name (then SIGHUP `serve`, or restart it).
    Revoke {
        /// The entry's name.
        name: String,
        /// The access file.
        #[command(flatten)]
        file: FileArg,
    },
}

/// Runs an `auth` subcommand.
pub fn run(cmd: AuthCommand) -> ExitCode {
    match run_inner(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(cmd: AuthCommand) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        AuthCommand::AddToken {
            role,
            agent_id,
            name,
            file,
        } => {
            let mut f = AccessFile::load_or_new(&file.file)?;
            let name = name.unwrap_or_else(|| match &agent_id {
                Some(a) => format!("{role}-{a}"),
                None => format!("{role}-{}", f.tokens.len() + f.certs.len() + 1),
            });
            let token = f.add_token(&file.file, &name, role, agent_id)?;
            f.save(&file.file)?;
            eprintln!(
                "token {name:?} ({role}) added to {}; it is shown once, keep it secret:",
                file.file.display()
            );
            println!("{token}");
        }
        AuthCommand::AddCert {
            cert,
            role,
            agent_id,
            name,
            file,
        } => {
            let mut f = AccessFile::load_or_new(&file.file)?;
            let sha = f.add_cert(&file.file, &name, role, agent_id, &cert)?;
            f.save(&file.file)?;
            println!(
                "certificate {name:?} ({role}, SHA-256 {sha}) added to {}",
                file.file.display()
            );
        }
        AuthCommand::List { file } => {
            let f = AccessFile::load(&file.file)?;
            let entries = f.tokens.iter().map(|e| ("token", e));
            for (kind, e) in entries.chain(f.certs.iter().map(|e| ("cert", e))) {
                println!(
                    "{kind:<6} {:<20} {:<10} {:<12} {}",
                    e.name,
                    e.role,
                    e.agent_id.as_deref().unwrap_or("-"),
                    e.created
                );
            }
        }
        AuthCommand::Revoke { name, file } => {
            let mut f = AccessFile::load(&file.file)?;
            if !f.revoke(&name) {
                return Err(format!("no entry named {name:?} in {}", file.file.display()).into());
            }
            f.save(&file.file)?;
            println!("revoked {name:?}; restart `callscope serve` for it to take effect");
        }
    }
    Ok(())
}
