// File type naming: turns libmagic's answer (MIME type + description) and the first bytes of a
// file into the short lower-case type name and the file Category that Zscaler reports
// (Summary.FileType / Summary.Category). Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sandgate::analysis {

struct FileTypeInfo {
  // Short lower-case name, like a file extension: exe, dll, elf, macho, msi, lnk, zip, 7z, rar, gz,
  // bz2, xz, tar, cab, arj, cpio, iso, pdf, doc, docx, docm, xls, xlsx, xlsm, ppt, pptx, rtf, odt,
  // chm, jar, class, apk, dex, swf, html, js, vbs, ps1, bat, sh, py, hta, xml, json, eml, txt, png,
  // jpg, gif, ..., "empty" for a zero-length file, "bin" when libmagic does not recognise the data.
  // A recognised type without a mapping gets its MIME subtype ("x-" and "vnd." stripped).
  std::string type;
  // Zscaler file category: EXECS, ARCHIVE, DOCS, PDF, SCRIPT, JAR, ANDROID, FLASH or OTHER.
  std::string category;
  // False when libmagic could not tell what the bytes are (application/octet-stream, "data").
  bool identified = false;
};

// mime: libmagic with MAGIC_MIME_TYPE ("application/pdf"); description: libmagic's default text
// ("PDF document, version 1.4"); head: the file's first bytes (up to 64 KiB is plenty), used to
// tell plain-text scripts apart (PowerShell, VBScript, JavaScript, batch), which libmagic calls
// text/plain.
FileTypeInfo DetectFileType(std::string_view mime, std::string_view description,
                            std::string_view head);

// The Zscaler category of a short type name (OTHER when unknown).
std::string CategoryOf(std::string_view type);

}  // namespace sandgate::analysis
