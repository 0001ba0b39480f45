//! Offline evaluation (`atelier eval`).

pub fn command(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
