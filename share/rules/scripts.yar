// Script and document heuristics (see pe.yar for the meta conventions). They look at script text,
// so native executables (PE, ELF, Mach-O), which may quote such strings harmlessly, are excluded.

rule Sandgate_PowerShell_Download_Cradle
{
  meta:
    severity = "HIGH"
    description = "PowerShell download cradle: fetches a script from the network and executes it in memory"
    section = "Networking"
  strings:
    $wc = "Net.WebClient" nocase ascii wide
    $dl1 = "DownloadString" nocase ascii wide
    $dl2 = "DownloadData" nocase ascii wide
    $iwr1 = "Invoke-WebRequest" nocase ascii wide
    $iwr2 = "Invoke-RestMethod" nocase ascii wide
    $iex1 = "Invoke-Expression" nocase ascii wide
    $iex2 = "IEX(" nocase ascii wide
    $iex3 = "IEX (" nocase ascii wide
    $iex4 = "|IEX" nocase ascii wide
    $iex5 = "| IEX" nocase ascii wide
  condition:
    filesize < 10MB and
    uint16(0) != 0x5A4D and uint32(0) != 0x464C457F and
    uint32(0) != 0xFEEDFACE and uint32(0) != 0xFEEDFACF and
    any of ($iex*) and (($wc and any of ($dl*)) or any of ($iwr*))
}

rule Sandgate_PowerShell_Hidden_Encoded
{
  meta:
    severity = "MODERATE"
    description = "PowerShell started with a hidden window and a Base64-encoded command"
    section = "Stealth"
  strings:
    $ps = "powershell" nocase ascii wide
    $enc1 = "-EncodedCommand" nocase ascii wide
    $enc2 = /\s-e[a-z]{0,13}\s+[A-Za-z0-9+\/]{40}/ nocase ascii wide
    $hid1 = "-WindowStyle Hidden" nocase ascii wide
    $hid2 = "-w hidden" nocase ascii wide
    $hid3 = "-win hidden" nocase ascii wide
    $hid4 = "-window hidden" nocase ascii wide
  condition:
    filesize < 10MB and
    uint16(0) != 0x5A4D and uint32(0) != 0x464C457F and
    uint32(0) != 0xFEEDFACE and uint32(0) != 0xFEEDFACF and
    $ps and any of ($enc*) and any of ($hid*)
}

rule Sandgate_JS_Eval_Unescape
{
  meta:
    severity = "MODERATE"
    description = "JavaScript decodes escaped text and evaluates it (eval of unescape/fromCharCode/atob output)"
    section = "Stealth"
  strings:
    $eval_unescape = /eval\s*\(\s*(unescape|atob|String\.fromCharCode)\s*\(/ nocase
    $eval = /eval\s*\(/
    $dec1 = /unescape\s*\(/
    $esc1 = /%u[0-9a-fA-F]{4}/
    $esc2 = /\\x[0-9a-fA-F]{2}/
  condition:
    filesize < 5MB and
    uint16(0) != 0x5A4D and uint32(0) != 0x464C457F and
    uint32(0) != 0xFEEDFACE and uint32(0) != 0xFEEDFACF and
    ($eval_unescape or ($eval and $dec1 and #esc1 + #esc2 >= 256))
}

rule Sandgate_JS_Heap_Spray
{
  meta:
    severity = "HIGH"
    description = "JavaScript builds a NOP sled from %u-escaped shellcode (heap spray exploit)"
    section = "Exploit"
  strings:
    $unescape = /unescape\s*\(/
    $nop1 = "%u9090%u9090" nocase
    $nop2 = "%u0c0c%u0c0c" nocase
    $nop3 = "%u0a0a%u0a0a" nocase
  condition:
    filesize < 5MB and uint16(0) != 0x5A4D and uint32(0) != 0x464C457F and
    $unescape and any of ($nop*)
}

rule Sandgate_Office_Macro_AutoExec
{
  meta:
    severity = "MODERATE"
    description = "Office document with VBA macros that run automatically when it is opened or closed"
    section = "Persistence"
  strings:
    // OLE2 (.doc/.xls/.ppt) only: in OOXML (.docm) the macro project is deflated inside the zip.
    $vba = "_VBA_PROJECT" wide
    $auto1 = "AutoOpen" nocase
    $auto2 = "Auto_Open" nocase
    $auto3 = "Document_Open" nocase
    $auto4 = "Workbook_Open" nocase
    $auto5 = "AutoExec" nocase
    $auto6 = "AutoClose" nocase
    $auto7 = "Auto_Close" nocase
    $auto8 = "Document_Close" nocase
  condition:
    uint32(0) == 0xE011CFD0 and uint32(4) == 0xE11AB1A1 and filesize < 32MB and
    $vba and any of ($auto*)
}

rule Sandgate_Office_Macro_Launcher
{
  meta:
    severity = "HIGH"
    description = "Auto-executing Office macro that launches programs or downloads files"
    section = "Exploit"
  strings:
    $l1 = "WScript.Shell" nocase
    $l2 = "Shell.Application" nocase
    $l3 = "URLDownloadToFile" nocase
    $l4 = "powershell" nocase
    $l5 = "MSXML2.XMLHTTP" nocase
    $l6 = "ADODB.Stream" nocase
    $l7 = "cmd.exe" nocase
  condition:
    Sandgate_Office_Macro_AutoExec and 2 of ($l*)
}
