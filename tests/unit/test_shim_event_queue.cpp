// berth-shim's event retry policy (shim/events/event_queue.hpp): the bounded queue
// keeps order and evicts the oldest, the backoff doubles to its cap and
// starts over, and only connection-like answers are retried.
#include <criterion/criterion.h>

#include "event_queue.hpp"

#include <string>

using namespace berth::shim;
using std::chrono::milliseconds;

Test(event_queue, keeps_order) {
    BoundedQueue<int> q(4);
    for (int i = 0; i < 3; ++i) cr_assert(!q.push(i).has_value());
    cr_assert_eq(q.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        cr_assert_eq(q.front(), i);
        q.pop();
    }
    cr_assert(q.empty());
    cr_assert_eq(q.evicted(), 0u);
}

Test(event_queue, full_queue_evicts_the_oldest) {
    BoundedQueue<std::string> q(3);
    for (const char* s : {"a", "b", "c"}) q.push(s);
    auto old = q.push("d");
    cr_assert(old.has_value());
    cr_assert_eq(*old, "a");
    old = q.push("e");
    cr_assert_eq(*old, "b");
    cr_assert_eq(q.size(), 3u);
    cr_assert_eq(q.evicted(), 2u);
    std::string order;
    while (!q.empty()) {
        order += q.front();
        q.pop();
    }
    cr_assert_eq(order, "cde");
}

Test(event_queue, zero_capacity_still_holds_one) {
    BoundedQueue<int> q(0);
    cr_assert_eq(q.capacity(), 1u);
    q.push(1);
    cr_assert_eq(*q.push(2), 1);
    cr_assert_eq(q.front(), 2);
}

Test(event_queue, backoff_doubles_to_the_cap_and_resets) {
    Backoff b(milliseconds(100), milliseconds(2000));
    long want[] = {100, 200, 400, 800, 1600, 2000, 2000};
    for (long w : want) cr_assert_eq(b.next().count(), w);
    b.reset();
    cr_assert_eq(b.next().count(), 100);
    cr_assert_eq(b.next().count(), 200);
}

Test(event_queue, which_answers_are_retried) {
    cr_assert(forward_outcome(0) == ForwardOutcome::delivered);
    cr_assert(forward_outcome(14) == ForwardOutcome::retry);   // Unavailable
    cr_assert(forward_outcome(4) == ForwardOutcome::retry);    // DeadlineExceeded
    // A verdict on the event itself: sending it again gets the same answer.
    for (int code : {2, 3, 5, 7, 9, 12, 13}) cr_assert(forward_outcome(code) == ForwardOutcome::rejected, "code %d", code);
}
