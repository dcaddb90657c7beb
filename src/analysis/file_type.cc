#include "analysis/file_type.h"

#include <array>
#include <cctype>
#include <utility>

#include "common/ascii.h"

namespace sandgate::analysis {
namespace {

struct MimeName {
  std::string_view mime;
  std::string_view type;
};

// Exact MIME type -> short name. Checked before the description-based refinements below.
constexpr std::array kMimeNames = {
    MimeName{"application/x-executable", "elf"},
    MimeName{"application/x-pie-executable", "elf"},
    MimeName{"application/x-sharedlib", "elf"},
    MimeName{"application/x-object", "elf"},
    MimeName{"application/x-coredump", "elf"},
    MimeName{"application/x-mach-binary", "macho"},
    MimeName{"application/x-msi", "msi"},
    MimeName{"application/x-ms-shortcut", "lnk"},
    MimeName{"application/pdf", "pdf"},
    MimeName{"application/zip", "zip"},
    MimeName{"application/x-zip", "zip"},
    MimeName{"application/x-7z-compressed", "7z"},
    MimeName{"application/x-rar", "rar"},
    MimeName{"application/vnd.rar", "rar"},
    MimeName{"application/x-rar-compressed", "rar"},
    MimeName{"application/gzip", "gz"},
    MimeName{"application/x-gzip", "gz"},
    MimeName{"application/x-bzip2", "bz2"},
    MimeName{"application/x-bzip", "bz2"},
    MimeName{"application/x-xz", "xz"},
    MimeName{"application/x-lzma", "lzma"},
    MimeName{"application/x-lzip", "lz"},
    MimeName{"application/x-lz4", "lz4"},
    MimeName{"application/zstd", "zst"},
    MimeName{"application/x-compress", "z"},
    MimeName{"application/x-tar", "tar"},
    MimeName{"application/x-gtar", "tar"},
    MimeName{"application/x-ustar", "tar"},
    MimeName{"application/vnd.ms-cab-compressed", "cab"},
    MimeName{"application/x-arj", "arj"},
    MimeName{"application/x-cpio", "cpio"},
    MimeName{"application/x-iso9660-image", "iso"},
    MimeName{"application/x-lzh-compressed", "lzh"},
    MimeName{"application/x-ace-compressed", "ace"},
    MimeName{"application/x-ms-compress-szdd", "szdd"},
    MimeName{"application/x-installshield-compress-szdd", "szdd"},
    MimeName{"application/x-ms-wim", "wim"},
    MimeName{"application/msword", "doc"},
    MimeName{"application/vnd.ms-excel", "xls"},
    MimeName{"application/vnd.ms-powerpoint", "ppt"},
    MimeName{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    MimeName{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    MimeName{"application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"},
    MimeName{"application/vnd.ms-word.document.macroenabled.12", "docm"},
    MimeName{"application/vnd.ms-excel.sheet.macroenabled.12", "xlsm"},
    MimeName{"application/vnd.ms-powerpoint.presentation.macroenabled.12", "pptm"},
    MimeName{"text/rtf", "rtf"},
    MimeName{"application/rtf", "rtf"},
    MimeName{"application/vnd.oasis.opendocument.text", "odt"},
    MimeName{"application/vnd.oasis.opendocument.spreadsheet", "ods"},
    MimeName{"application/vnd.oasis.opendocument.presentation", "odp"},
    MimeName{"application/vnd.ms-htmlhelp", "chm"},
    MimeName{"application/vnd.ms-outlook", "msg"},
    MimeName{"application/x-ms-msg", "msg"},
    MimeName{"application/java-archive", "jar"},
    MimeName{"application/x-java-applet", "class"},
    MimeName{"application/vnd.android.package-archive", "apk"},
    MimeName{"application/x-shockwave-flash", "swf"},
    MimeName{"text/html", "html"},
    MimeName{"application/javascript", "js"},
    MimeName{"text/javascript", "js"},
    MimeName{"application/x-javascript", "js"},
    MimeName{"text/x-msdos-batch", "bat"},
    MimeName{"text/x-shellscript", "sh"},
    MimeName{"application/x-shellscript", "sh"},
    MimeName{"text/x-script.python", "py"},
    MimeName{"text/x-python", "py"},
    MimeName{"text/x-perl", "pl"},
    MimeName{"text/x-php", "php"},
    MimeName{"text/xml", "xml"},
    MimeName{"application/xml", "xml"},
    MimeName{"application/json", "json"},
    MimeName{"message/rfc822", "eml"},
    MimeName{"image/jpeg", "jpg"},
    MimeName{"image/svg+xml", "svg"},
    MimeName{"image/x-ms-bmp", "bmp"},
    MimeName{"application/x-empty", "empty"},
    MimeName{"inode/x-empty", "empty"},
};

struct TypeCategory {
  std::string_view type;
  std::string_view category;
};

constexpr std::array kCategories = {
    TypeCategory{"exe", "EXECS"},    TypeCategory{"dll", "EXECS"},
    TypeCategory{"elf", "EXECS"},    TypeCategory{"macho", "EXECS"},
    TypeCategory{"msi", "EXECS"},    TypeCategory{"lnk", "EXECS"},
    TypeCategory{"zip", "ARCHIVE"},  TypeCategory{"7z", "ARCHIVE"},
    TypeCategory{"rar", "ARCHIVE"},  TypeCategory{"gz", "ARCHIVE"},
    TypeCategory{"bz2", "ARCHIVE"},  TypeCategory{"xz", "ARCHIVE"},
    TypeCategory{"lzma", "ARCHIVE"}, TypeCategory{"lz", "ARCHIVE"},
    TypeCategory{"lz4", "ARCHIVE"},  TypeCategory{"zst", "ARCHIVE"},
    TypeCategory{"z", "ARCHIVE"},    TypeCategory{"tar", "ARCHIVE"},
    TypeCategory{"cab", "ARCHIVE"},  TypeCategory{"arj", "ARCHIVE"},
    TypeCategory{"cpio", "ARCHIVE"}, TypeCategory{"iso", "ARCHIVE"},
    TypeCategory{"lzh", "ARCHIVE"},  TypeCategory{"ace", "ARCHIVE"},
    TypeCategory{"szdd", "ARCHIVE"}, TypeCategory{"wim", "ARCHIVE"},
    TypeCategory{"pdf", "PDF"},      TypeCategory{"doc", "DOCS"},
    TypeCategory{"docx", "DOCS"},    TypeCategory{"docm", "DOCS"},
    TypeCategory{"xls", "DOCS"},     TypeCategory{"xlsx", "DOCS"},
    TypeCategory{"xlsm", "DOCS"},    TypeCategory{"ppt", "DOCS"},
    TypeCategory{"pptx", "DOCS"},    TypeCategory{"pptm", "DOCS"},
    TypeCategory{"rtf", "DOCS"},     TypeCategory{"odt", "DOCS"},
    TypeCategory{"ods", "DOCS"},     TypeCategory{"odp", "DOCS"},
    TypeCategory{"chm", "DOCS"},     TypeCategory{"ole", "DOCS"},
    TypeCategory{"jar", "JAR"},      TypeCategory{"class", "JAR"},
    TypeCategory{"apk", "ANDROID"},  TypeCategory{"dex", "ANDROID"},
    TypeCategory{"swf", "FLASH"},    TypeCategory{"html", "SCRIPT"},
    TypeCategory{"hta", "SCRIPT"},   TypeCategory{"js", "SCRIPT"},
    TypeCategory{"vbs", "SCRIPT"},   TypeCategory{"ps1", "SCRIPT"},
    TypeCategory{"bat", "SCRIPT"},   TypeCategory{"sh", "SCRIPT"},
    TypeCategory{"py", "SCRIPT"},    TypeCategory{"pl", "SCRIPT"},
    TypeCategory{"php", "SCRIPT"},
};

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// Number of distinct markers present in the (lower-cased) text.
template <size_t N>
int CountMarkers(std::string_view text, const std::array<std::string_view, N>& markers) {
  int n = 0;
  for (std::string_view m : markers) n += Contains(text, m) ? 1 : 0;
  return n;
}

// libmagic calls most scripts "ASCII text": tell PowerShell, VBScript, JavaScript, HTA and batch
// apart by distinctive tokens. Conservative: two or three distinct markers are needed.
std::string_view SniffText(std::string_view head) {
  const std::string text = AsciiLower(head);
  static constexpr std::array<std::string_view, 14> kPowerShell = {
      "invoke-expression", "iex(",           "iex ",          "new-object ",
      "-executionpolicy",  "write-host",     "$env:",         "invoke-webrequest",
      "[system.",          "param(",         "get-childitem", "-encodedcommand",
      "start-process",     "downloadstring("};
  static constexpr std::array<std::string_view, 6> kVbs = {
      "createobject(", "wscript.", "end sub", "end function", "on error resume next", "dim "};
  static constexpr std::array<std::string_view, 12> kJs = {
      "function(", "function ", "var ",          "document.",    "window.",       "eval(",
      "unescape(", "});",       "activexobject", "console.log(", "fromcharcode(", "=>"};
  if (text.find("<hta:application") != std::string::npos) return "hta";
  if (CountMarkers(text, kPowerShell) >= 2) return "ps1";
  if (CountMarkers(text, kVbs) >= 2) return "vbs";
  if (CountMarkers(text, kJs) >= 3) return "js";
  if (text.starts_with("@echo off") || Contains(text, "\n@echo off")) return "bat";
  return "txt";
}

// Fallback name for a recognised but unmapped MIME type: its subtype without "x-"/"vnd.",
// restricted to [a-z0-9.+-] and 16 characters.
std::string FromSubtype(std::string_view mime) {
  const size_t slash = mime.find('/');
  std::string_view sub = slash == std::string_view::npos ? mime : mime.substr(slash + 1);
  if (sub.starts_with("x-")) sub.remove_prefix(2);
  if (sub.starts_with("vnd.")) sub.remove_prefix(4);
  std::string out;
  for (char c : sub) {
    const auto uc = static_cast<unsigned char>(c);
    if (std::isalnum(uc) || c == '.' || c == '+' || c == '-') {
      out.push_back(static_cast<char>(std::tolower(uc)));
    }
    if (out.size() == 16) break;
  }
  return out.empty() ? "bin" : out;
}

}  // namespace

std::string CategoryOf(std::string_view type) {
  for (const TypeCategory& tc : kCategories) {
    if (tc.type == type) return std::string(tc.category);
  }
  return "OTHER";
}

FileTypeInfo DetectFileType(std::string_view mime_in, std::string_view description,
                            std::string_view head) {
  const std::string mime = AsciiLower(mime_in);
  FileTypeInfo info;
  info.identified = !mime.empty() && mime != "application/octet-stream";
  std::string type;

  if (mime == "application/vnd.microsoft.portable-executable" || mime == "application/x-dosexec" ||
      mime == "application/x-msdownload" || description.starts_with("PE32")) {
    type = Contains(description, "(DLL)") ? "dll" : "exe";
  } else if (description.starts_with("ELF ")) {
    type = "elf";
  } else if (mime == "application/x-ole-storage" || mime == "application/cdfv2" ||
             mime == "application/x-cdf") {
    // Compound File Binary that libmagic did not map to a specific Office MIME type.
    if (Contains(description, "MSI Installer")) {
      type = "msi";
    } else if (Contains(description, "Excel")) {
      type = "xls";
    } else if (Contains(description, "PowerPoint")) {
      type = "ppt";
    } else if (Contains(description, "Word")) {
      type = "doc";
    } else {
      type = "ole";
    }
  } else if (description.starts_with("Dalvik dex")) {
    type = "dex";
  } else if (mime == "text/plain") {
    type = SniffText(head);
  } else {
    for (const MimeName& mn : kMimeNames) {
      if (mn.mime == mime) {
        type = std::string(mn.type);
        break;
      }
    }
    if (type.empty()) {
      if (!info.identified) {
        type = "bin";
      } else if (mime.starts_with("image/") || mime.starts_with("audio/") ||
                 mime.starts_with("video/") || mime.starts_with("font/")) {
        type = FromSubtype(mime);
      } else if (mime.starts_with("text/")) {
        type = mime == "text/x-c" || mime == "text/x-c++" ? "c" : FromSubtype(mime);
      } else {
        type = FromSubtype(mime);
      }
    }
  }
  // A zip that libmagic could not refine: look at the names of its first entries.
  if (type == "zip") {
    if (Contains(head, "AndroidManifest.xml") && Contains(head, "classes.dex")) {
      type = "apk";
    } else if (Contains(head, "META-INF/MANIFEST.MF")) {
      type = "jar";
    } else if (Contains(head, "[Content_Types].xml")) {
      if (Contains(head, "word/"))
        type = "docx";
      else if (Contains(head, "xl/"))
        type = "xlsx";
      else if (Contains(head, "ppt/"))
        type = "pptx";
    }
  }
  if (type == "empty") info.identified = true;
  info.category = CategoryOf(type);
  info.type = std::move(type);
  return info;
}

}  // namespace sandgate::analysis
