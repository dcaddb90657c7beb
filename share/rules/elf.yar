// Linux ELF heuristics (see pe.yar for the meta conventions). A normal dynamically linked
// executable built by gcc/clang (sections present, PT_INTERP, no W+X segment) matches none of them.
import "elf"

rule Sandgate_ELF_No_Section_Headers
{
  meta:
    severity = "MODERATE"
    description = "ELF executable without section headers (sstrip-ed or packed to hinder analysis)"
    section = "Stealth"
  condition:
    uint32(0) == 0x464C457F and
    (elf.type == elf.ET_EXEC or elf.type == elf.ET_DYN) and
    elf.number_of_segments > 0 and elf.number_of_sections == 0
}

rule Sandgate_ELF_UPX_Packed
{
  meta:
    severity = "LOW"
    description = "ELF executable is packed with UPX"
    section = "Stealth"
  strings:
    $upx = "UPX!"
  condition:
    uint32(0) == 0x464C457F and $upx in (0..1024)
}

rule Sandgate_ELF_WX_Segment
{
  meta:
    severity = "MODERATE"
    description = "ELF has a loadable segment that is both writable and executable"
    section = "Stealth"
  condition:
    uint32(0) == 0x464C457F and
    for any s in elf.segments : (
      s.type == elf.PT_LOAD and (s.flags & elf.PF_W) != 0 and (s.flags & elf.PF_X) != 0)
}

rule Sandgate_ELF_Static_Stripped
{
  meta:
    severity = "LOW"
    description = "Statically linked, stripped ELF executable (typical of IoT malware, also of some rescue tools)"
  condition:
    uint32(0) == 0x464C457F and elf.type == elf.ET_EXEC and elf.number_of_sections > 0 and
    not (for any s in elf.segments : (s.type == elf.PT_INTERP)) and
    not (for any s in elf.sections : (s.type == elf.SHT_SYMTAB))
}
