#include "review/decision_service.h"

#include "common/log.h"
#include "common/text.h"
#include "review/api_json.h"
#include "store/store.h"

namespace holdgate::review {

DecisionService::DecisionService(store::Store& store) : store_(store) {}

namespace {

// The door's own rules; on success `in` is the store's input for the vote.
Status Prepare(DecisionRequest& request, store::DecisionInput* in) {
  if (request.role < Role::kReviewer) {
    return Status(Code::kPermissionDenied, request.reviewer + " has role " + RoleName(request.role) +
                                               ", which may read but never decide");
  }
  request.reason = std::string(TrimSpace(request.reason));
  if (request.reason.size() > DecisionService::kMaxReasonBytes) {
    return InvalidArgument("reason is too long (max " + std::to_string(DecisionService::kMaxReasonBytes) + " bytes)");
  }
  if (!request.approve && request.reason.empty()) return InvalidArgument(DecisionService::kReasonRequired);
  in->id = request.approval_id;
  in->reviewer = request.reviewer;
  in->roles = request.roles.empty() ? RolesFor(request.role) : request.roles;
  in->via = request.via;
  in->via_source = request.via_source;
  in->approve = request.approve;
  in->reason = request.reason;
  in->edited_arguments = std::move(request.edited_arguments);
  in->outbox = std::move(request.outbox);
  return Status::Ok();
}

// A store failure is "try again later", never "decided".
Result<store::DecisionOutcome> Settle(const store::DecisionInput& in, Result<store::DecisionOutcome> out,
                                      const std::string& via_source) {
  if (!out.ok()) {
    const Status& s = out.status();
    if (s.code() == Code::kIo || s.code() == Code::kInternal) {
      log::Error("decision not recorded: the store failed", {{"approval", in.id}, {"error", s.ToString()}});
      return Unavailable("the approval store cannot record decisions right now (" + s.message() +
                         "); nothing was decided, try again");
    }
    return s;
  }
  log::Info("decision", {{"approval", in.id}, {"reviewer", in.reviewer}, {"via", in.via},
                         {"via_source", via_source}, {"approve", in.approve}, {"changed", out->changed},
                         {"state", store::StateName(out->state)}});
  return out;
}

}  // namespace

Result<store::DecisionOutcome> DecisionService::Decide(DecisionRequest request) {
  std::optional<store::NewGrant> grant;
  if (request.remember) {
    if (!request.approve) return InvalidArgument("only an approval can be remembered");
    if (request.edited_arguments) {
      return Status(Code::kPermissionDenied, "an approval whose arguments were edited cannot be remembered");
    }
    grant.emplace();
    grant->approval_id = request.approval_id;
    grant->created_by = request.reviewer;
    grant->created_via = request.via;
    grant->for_ms = request.remember->for_ms;
    grant->session_scope = request.remember->session_scope;
    grant->any_arguments = request.remember->any_arguments;
    auto current = store_.Get(request.approval_id);
    if (!current.ok()) return current.status();
    // Refuse before voting: a remember the rule does not allow decides nothing.
    Status rememberable = store::CheckRememberable(*current, *grant);
    if (!rememberable.ok()) return rememberable;
  }
  store::DecisionInput in;
  Status ready = Prepare(request, &in);
  if (!ready.ok()) return ready;
  Result<store::DecisionOutcome> out = Settle(in, store_.Decide(in), request.via_source);
  if (!out.ok() || !grant) return out;
  if (!out->changed) {
    // A repeated approve (a double click) records nothing, so it makes no second grant either.
    out->grant_error = "not remembered: your vote was already recorded by an earlier request";
    return out;
  }
  if (out->state == store::State::kPending) {
    out->grant_error = "not remembered: the approval still needs more approvals";
    return out;
  }
  auto made = store_.CreateGrant(*grant);
  if (made.ok()) {
    log::Info("grant", {{"grant", made->id}, {"approval", made->approval_id}, {"by", made->created_by},
                        {"scope", made->scope}, {"any_arguments", made->any_arguments()},
                        {"expires_at", made->expires_at_ms}});
    out->grant = std::move(*made);
  } else {
    out->grant_error = "not remembered: " + made.status().message();
  }
  return out;
}

Result<store::Grant> DecisionService::RevokeGrant(const std::string& grant_id, const std::string& actor, Role role,
                                                  const std::string& via, const std::string& reason) {
  if (role < Role::kReviewer) {
    return Status(Code::kPermissionDenied, actor + " has role " + RoleName(role) + ", which may not revoke grants");
  }
  const std::string why(TrimSpace(reason));
  if (why.size() > kMaxReasonBytes) {
    return InvalidArgument("reason is too long (max " + std::to_string(kMaxReasonBytes) + " bytes)");
  }
  if (role != Role::kAdmin) {
    auto g = store_.GetGrant(grant_id);
    if (!g.ok()) return g.status();
    if (!store::SameIdentity(g->created_by, actor)) {
      return Status(Code::kPermissionDenied,
                    "only an admin or " + g->created_by + ", who made grant " + grant_id + ", may revoke it");
    }
  }
  auto revoked = store_.RevokeGrant(grant_id, actor, via, why);
  if (!revoked.ok() && (revoked.status().code() == Code::kIo || revoked.status().code() == Code::kInternal)) {
    return Unavailable("the store cannot revoke grants right now (" + revoked.status().message() + "); try again");
  }
  return revoked;
}

std::vector<Result<store::DecisionOutcome>> DecisionService::DecideMany(std::vector<DecisionRequest> requests) {
  std::vector<Result<store::DecisionOutcome>> out(requests.size(), Result<store::DecisionOutcome>(Internal("not run")));
  std::vector<store::DecisionInput> inputs;
  std::vector<size_t> where;
  for (size_t i = 0; i < requests.size(); ++i) {
    store::DecisionInput in;
    Status ready = Prepare(requests[i], &in);
    if (!ready.ok()) {
      out[i] = ready;
      continue;
    }
    inputs.push_back(std::move(in));
    where.push_back(i);
  }
  std::vector<Result<store::DecisionOutcome>> written = store_.DecideMany(inputs);
  for (size_t k = 0; k < where.size(); ++k) {
    out[where[k]] = Settle(inputs[k], std::move(written[k]), requests[where[k]].via_source);
  }
  return out;
}

Role SlackUserRole(const std::vector<std::string>& configured_roles) {
  Role best = Role::kNone;
  for (const std::string& name : configured_roles) {
    Role r;
    if (ParseRole(name, &r) && r > best) best = r;
  }
  return best == Role::kNone ? Role::kReviewer : best;
}

}  // namespace holdgate::review
