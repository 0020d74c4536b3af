/* test_ema.c - the EMA schedule and update. */
#include <string.h>

#include "check.h"
#include "dacs/ema.h"

int main(void)
{
    CHECK(dx_ema_alpha(0, 0.99) == 0, "t = 0: alpha 0 (a copy)");
    CHECK(dx_ema_alpha(1, 0.99) == 0.5, "t = 1: alpha 1/2");
    CHECK_CLOSE(dx_ema_alpha(50, 0.99), 1 - 1.0 / 51, 1e-15, 0,
                "t = 50: alpha 1 - 1/51");
    CHECK(dx_ema_alpha(98, 0.99) < 0.99 && dx_ema_alpha(99, 0.99) == 0.99 &&
              dx_ema_alpha(100, 0.99) == 0.99 &&
              dx_ema_alpha(1000000, 0.99) == 0.99,
          "alpha reaches alpha_max 0.99 at t = 99 and stays there");
    CHECK(dx_ema_alpha(5, 0.5) == 0.5, "alpha_max caps early");

    float t[4] = {1, -2, 3.5f, 1e-8f}, s[4] = {3, 2, -0.5f, 7};
    float u[4];
    memcpy(u, t, sizeof u);
    dx_ema_update(u, s, 4, 0);
    CHECK(memcmp(u, s, sizeof u) == 0, "alpha 0 returns the student exactly");
    memcpy(u, t, sizeof u);
    dx_ema_update(u, s, 4, 1);
    CHECK(memcmp(u, t, sizeof u) == 0, "alpha 1 keeps the teacher exactly");
    memcpy(u, t, sizeof u);
    dx_ema_update(u, s, 4, 0.5);
    CHECK(u[0] == 2 && u[1] == 0 && u[2] == 1.5f,
          "alpha 1/2: the mean (%g %g %g)", u[0], u[1], u[2]);
    memcpy(u, t, sizeof u);
    dx_ema_update(u, s, 4, 0.99);
    CHECK(u[0] == (float)(0.99 * 1 + 0.01 * 3) &&
              u[2] == (float)(0.99 * 3.5 + 0.01 * -0.5),
          "alpha 0.99: 0.99 t + 0.01 s rounded once (%.9g)", u[0]);
    return check_done();
}
