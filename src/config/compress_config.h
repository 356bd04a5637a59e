// The 'compress' middleware's settings (docs/middlewares/compress.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::config {

// A content coding the middleware can apply (RFC 9110 §8.4.1).
enum class Coding : std::uint8_t {
  br,    // brotli, RFC 7932
  zstd,  // Zstandard, RFC 8878
  gzip,  // RFC 1952
};

struct CompressLevels {
  // Defaults for a proxy: speed over ratio (docs/middlewares/compress.md
  // has the measured throughput and ratio of each).
  int gzip = 5;  // 1..9
  int br = 4;    // 0..11
  int zstd = 3;  // 1..19
};

struct Compress {
  // Our preference order, used to break ties between the codings a client
  // weighs the same. zstd first: at its default level it is the fastest
  // and holds about 273 KiB per response; brotli last, as its levels 2-4
  // hold about 935 KiB per response whatever the window (a thousand
  // responses at once would be a gigabyte).
  std::vector<Coding> algorithms{Coding::zstd, Coding::gzip, Coding::br};
  CompressLevels level;
  // A response whose Content-Length is below this is sent as it is; one of
  // unknown length is compressed.
  std::uint64_t min_size = 1024;
  // Media types to compress, lower case, without parameters: "text/html",
  // or a prefix ending in '*' ("text/*"). text/event-stream never is.
  std::vector<std::string> types{
      "text/*",
      "application/json",
      "application/javascript",
      "application/x-javascript",
      "application/ecmascript",
      "application/xml",
      "application/xhtml+xml",
      "application/rss+xml",
      "application/atom+xml",
      "application/ld+json",
      "application/manifest+json",
      "application/geo+json",
      "application/problem+json",
      "application/graphql-response+json",
      "application/wasm",
      "application/x-ndjson",
      "image/svg+xml",
      "image/x-icon",
      "image/vnd.microsoft.icon",
      "image/bmp",
      "font/ttf",
      "font/otf",
      "application/vnd.ms-fontobject",
  };
};

}  // namespace sluice::config
