// Test-only sample contents shared by the analysis tests (*_test.cc files include this; the core
// library does not).
#pragma once

#include <string>

namespace sandgate::analysis::test_samples {

// The EICAR test string, assembled at run time so that no source or object file holds it in one
// piece (the two literals are stored separately, each NUL-terminated).
inline std::string Eicar() {
  std::string s = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
  s += "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  return s;
}

}  // namespace sandgate::analysis::test_samples
