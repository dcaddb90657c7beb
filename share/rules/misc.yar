// Format-independent heuristics (see pe.yar for the meta conventions).
import "math"

rule Sandgate_HighEntropy_Blob
{
  meta:
    severity = "LOW"
    description = "Near-random content in no recognised container format (encrypted or compressed payload)"
    section = "Stealth"
  condition:
    filesize >= 4KB and filesize < 64MB and
    // Formats whose bodies are compressed by design: executables (covered by pe.yar/elf.yar),
    // archives, PDF, images, audio/video, OLE2, CAB, Java (class, jmod), Android, Flash, fonts,
    // squashfs, LLVM bitcode.
    not (
      uint16(0) == 0x5A4D or uint32(0) == 0x464C457F or
      uint32(0) == 0xFEEDFACE or uint32(0) == 0xFEEDFACF or uint32(0) == 0xBEBAFECA or
      uint32(0) == 0x04034B50 or uint32(0) == 0x06054B50 or uint32(0) == 0x08074B50 or
      uint32(0) == 0xAFBC7A37 or uint32(0) == 0x21726152 or uint16(0) == 0x8B1F or
      uint16(0) == 0x9D1F or (uint32(0) & 0x00FFFFFF) == 0x00685A42 or
      uint32(0) == 0x587A37FD or uint32(0) == 0xFD2FB528 or uint32(0) == 0x184D2204 or
      uint32(0) == 0x50495A4C or uint16(0) == 0xEA60 or uint32(257) == 0x61747375 or
      uint32(0) == 0x46445025 or uint32(0) == 0x474E5089 or uint16(0) == 0xD8FF or
      uint32(0) == 0x38464947 or uint32(0) == 0x46464952 or uint32(4) == 0x70797466 or
      uint32(0) == 0x5367674F or uint32(0) == 0x43614C66 or
      (uint32(0) & 0x00FFFFFF) == 0x00334449 or (uint16(0) & 0xE0FF) == 0xE0FF or
      uint32(0) == 0xA3DF451A or uint32(0) == 0xE011CFD0 or uint32(0) == 0x4643534D or
      uint32(0) == 0x0A786564 or (uint32(0) & 0x00FFFFFF) == 0x00535746 or
      (uint32(0) & 0x00FFFFFF) == 0x00535743 or (uint32(0) & 0x00FFFFFF) == 0x0053575A or
      uint32(0) == 0x46464F77 or uint32(0) == 0x32464F77 or uint32(0) == 0x73717368 or
      uint16(0) == 0x4D4A or uint32(0) == 0xDEC04342
    ) and
    math.entropy(0, filesize) > 7.2
}
