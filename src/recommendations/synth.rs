//! Synthetic stores (`atelier synth`).

pub fn command(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
