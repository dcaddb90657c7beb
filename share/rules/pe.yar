// Windows PE heuristics. Every rule needs meta severity = "LOW" | "MODERATE" | "HIGH" (the weight in
// the static score: 10 / 30 / 50) and a description (the Signature shown in the report); section
// names the report list it goes to (default SystemSummary).
import "pe"
import "math"

rule Sandgate_PE_WX_Section
{
  meta:
    severity = "MODERATE"
    description = "PE file has a section that is both writable and executable (self-modifying or unpacking code)"
    section = "Stealth"
  condition:
    uint16(0) == 0x5A4D and pe.is_pe and
    for any s in pe.sections : (
      (s.characteristics & pe.SECTION_MEM_EXECUTE) != 0 and
      (s.characteristics & pe.SECTION_MEM_WRITE) != 0)
}

rule Sandgate_PE_UPX_Packed
{
  meta:
    severity = "LOW"
    description = "PE file is packed with UPX"
    section = "Stealth"
  condition:
    uint16(0) == 0x5A4D and pe.is_pe and
    for any s in pe.sections : (s.name == "UPX0") and
    for any s in pe.sections : (s.name == "UPX1")
}

rule Sandgate_PE_Packed_Code_Section
{
  meta:
    severity = "LOW"
    description = "PE executable section holds near-random bytes (compressed or encrypted code)"
    section = "Stealth"
  condition:
    uint16(0) == 0x5A4D and filesize < 64MB and pe.is_pe and
    for any s in pe.sections : (
      (s.characteristics & pe.SECTION_MEM_EXECUTE) != 0 and
      s.raw_data_size >= 4096 and
      math.entropy(s.raw_data_offset, s.raw_data_size) >= 7.3)
}

rule Sandgate_PE_Remote_Injection_Imports
{
  meta:
    severity = "MODERATE"
    description = "PE imports the remote process injection trio VirtualAllocEx, WriteProcessMemory and CreateRemoteThread"
    section = "SecurityBypass"
  condition:
    uint16(0) == 0x5A4D and pe.is_pe and
    pe.imports("kernel32.dll", "VirtualAllocEx") and
    pe.imports("kernel32.dll", "WriteProcessMemory") and
    pe.imports("kernel32.dll", "CreateRemoteThread")
}
