#pragma once
// PolicyVersions: the saved versions of a policy file, kept beside it in "<policy>.versions/" as
// "NNNN-YYYYMMDDTHHMMSSZ.json" (the policy text exactly as it was written) plus
// "NNNN-YYYYMMDDTHHMMSSZ.meta" ({"by", "why", "at", "hash", "rollback_of"}). Numbers grow by one
// per version; a version is never rewritten or deleted by holdgate.
//
// Blocking (file I/O); thread-compatible: the caller serialises Record (PolicyAdmin holds its
// load lock), List and Get may run beside it (they see whole files only: each is written
// atomically).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::server {

struct PolicyVersion {
  std::string id;  // "0003-20261206T101500Z"
  int number = 0;  // 3
  int64_t at_ms = 0;
  std::string by, why, hash;
  std::string rollback_of;  // the version id this one restored, or empty
};

Json PolicyVersionJson(const PolicyVersion& v);

class PolicyVersions {
 public:
  // REQUIRES: policy_path non-empty.
  explicit PolicyVersions(const std::string& policy_path);
  const std::string& dir() const { return dir_; }

  // Newest first. An absent directory is an empty history.
  Result<std::vector<PolicyVersion>> List() const;
  // The version and its text. kNotFound for an unknown or malformed id.
  Result<std::pair<PolicyVersion, std::string>> Get(const std::string& id) const;
  // Writes the next version (creating the directory). `v.id` and `v.number` are assigned.
  Result<PolicyVersion> Record(const std::string& text, PolicyVersion v);

  // True for ids of the form NNNN-YYYYMMDDTHHMMSSZ (what Record makes; safe as a file name).
  static bool ValidId(const std::string& id);

 private:
  std::string dir_;
};

}  // namespace holdgate::server
