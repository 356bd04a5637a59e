// Placeholder until the config loader lands.
namespace sluice::config {}
