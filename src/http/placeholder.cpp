// Placeholder until the HTTP codec lands.
namespace sluice::http {}
