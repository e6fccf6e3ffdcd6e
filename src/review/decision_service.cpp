#include "review/decision_service.h"

#include "common/log.h"
#include "review/api_json.h"
#include "store/store.h"

namespace holdgate::review {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

DecisionService::DecisionService(store::Store& store) : store_(store) {}

namespace {

// The door's own rules; on success `in` is the store's input for the vote.
Status Prepare(DecisionRequest& request, store::DecisionInput* in) {
  if (request.role < Role::kReviewer) {
    return Status(Code::kPermissionDenied, request.reviewer + " has role " + RoleName(request.role) +
                                               ", which may read but never decide");
  }
  request.reason = Trim(request.reason);
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
  store::DecisionInput in;
  Status ready = Prepare(request, &in);
  if (!ready.ok()) return ready;
  return Settle(in, store_.Decide(in), request.via_source);
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
