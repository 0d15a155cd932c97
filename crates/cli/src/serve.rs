//! `slidecast serve`: flags into a `slidecast_service::ServiceConfig`.

use crate::args::{RoleChoice, ServeArgs};
use crate::exit::CliError;

/// Run the service until interrupted.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut config = slidecast_service::ServiceConfig::builder()
        .listen(args.listen)
        .concurrent_jobs(args.concurrent_jobs)
        .max_upload_bytes(args.max_upload_mib.saturating_mul(1 << 20))
        .lease_secs(args.lease_secs)
        .role(match args.role {
            RoleChoice::All => slidecast_service::Role::All,
            RoleChoice::Api => slidecast_service::Role::Api,
            RoleChoice::Worker => slidecast_service::Role::Worker,
        });
    if let Some(url) = args.database {
        config = config.database(slidecast_service::DatabaseUrl::new(url));
    }
    if let Some(url) = args.blobs {
        config = config.blobs(url);
    }
    if let Some(dir) = args.data_dir {
        config = config.data_dir(dir);
    }
    if let Some(jobs) = args.jobs {
        config = config.cores(jobs);
    }
    if let Some(file) = &args.api_tokens {
        config = config
            .api_tokens(slidecast_service::ApiTokens::from_file(file).map_err(service_error)?);
    }
    if let Some(file) = &args.elai_webhook_secret_file {
        let secret = std::fs::read_to_string(file).map_err(|e| CliError::io(file, e))?;
        config = config.webhook_secret(slidecast_elai::webhook::WebhookSecret::new(secret.trim()));
    }
    for (name, value) in args.vendors.settings() {
        config = config.provider_setting(name, value);
    }
    let config = config.build();
    let data_dir = config.data_dir.clone();
    crate::render::runtime()?.block_on(async move {
        let service = slidecast_service::Service::start(config)
            .await
            .map_err(service_error)?;
        match service.local_addr() {
            Some(addr) => eprintln!(
                "slidecast serve: http://{addr}/ (data in {})",
                data_dir.display()
            ),
            None => eprintln!(
                "slidecast serve: worker running (data in {})",
                data_dir.display()
            ),
        }
        tokio::select! {
            r = service.serve() => r.map_err(service_error),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

fn service_error(e: slidecast_service::ServiceError) -> CliError {
    match e {
        slidecast_service::ServiceError::Config(message) => CliError::Usage(message),
        other => CliError::Run {
            message: other.to_string(),
        },
    }
}
