/* synth_style.c - the look and layout of the two domains.
 *
 * Colours are 0..255 RGB before the camera model; noise is the amplitude
 * of a class's texture.  Each class has a few candidate colours, one drawn
 * per scene or object.
 */
#include "synth/scene.h"

#define RGB(r, g, b) {r, g, b}
#define MAT(noise, ...) {{__VA_ARGS__}, sizeof((float[][3]){__VA_ARGS__}) / sizeof(float[3]), noise}

/* The source: a game engine's sunny, saturated, sharp city, with a camera
 * that varies in height and pitch, wide roads, open space, trucks. */
const style synth_source = {
    .cam_h = {1.6f, 3.0f}, .horizon = {0.30f, 0.50f}, .focal = {0.70f, 0.95f},
    .lanes = {2, 4}, .lane_w = 3.6f, .parking_p = 0.25f, .park_fill = 0.4f,
    .side_w = {2.0f, 3.5f}, .setback = {0, 9}, .terrain_p = 0.7f,
    .bld_h = {5, 28}, .bld_len = {10, 30}, .gap_p = 0.35f, .end_p = 0.4f,
    .street_len = {70, 200}, .tree_p = 0.25f, .tree_step = 11,
    .lamp_step = {25, 40}, .signs = {1, 4}, .movers = {1, 6},
    .persons = {0, 3}, .truck_p = 0.45f, .bus_p = 0.3f, .cross_p = 0.5f,
    .wall_p = 0.3f, .fence_p = 0.3f, .cloud = 0.35f, .tile = 0.9f,
    .verge_p = 0.1f,
    .obj_scale = {1.0f, 1.15f}, .hood = 0, .edge_lines = 1,
    .m = {
        [M_SKY_TOP] = MAT(0, RGB(55, 115, 215), RGB(70, 130, 225)),
        [M_SKY_LOW] = MAT(0, RGB(175, 205, 240), RGB(190, 215, 240)),
        [M_CLOUD] = MAT(0, RGB(245, 245, 250)),
        [M_ROAD] = MAT(14, RGB(72, 72, 78), RGB(82, 80, 84), RGB(64, 66, 70)),
        [M_MARK] = MAT(0, RGB(235, 235, 225), RGB(225, 185, 40)),
        [M_SIDEWALK] = MAT(10, RGB(168, 163, 152), RGB(178, 174, 165),
                           RGB(158, 155, 150)),
        [M_CURB] = MAT(6, RGB(195, 195, 190)),
        [M_BUILDING] = MAT(10, RGB(205, 175, 135), RGB(185, 140, 100),
                           RGB(165, 85, 65), RGB(215, 205, 185),
                           RGB(140, 150, 165)),
        [M_GLASS] = MAT(0, RGB(50, 80, 125), RGB(70, 110, 155),
                        RGB(40, 60, 95)),
        [M_WALL] = MAT(10, RGB(160, 155, 140), RGB(140, 140, 135)),
        [M_FENCE] = MAT(4, RGB(80, 80, 85), RGB(115, 100, 80)),
        [M_VEG] = MAT(40, RGB(55, 140, 40), RGB(70, 155, 50),
                      RGB(45, 120, 35)),
        [M_TRUNK] = MAT(8, RGB(90, 65, 45)),
        [M_TERRAIN] = MAT(22, RGB(175, 155, 85), RGB(160, 140, 75),
                          RGB(185, 165, 100)),
        [M_POLE] = MAT(3, RGB(55, 60, 58), RGB(45, 70, 55)),
        [M_LIGHT] = MAT(3, RGB(215, 180, 30)),
        [M_SIGN] = MAT(0, RGB(200, 30, 30), RGB(30, 80, 190),
                       RGB(30, 130, 60)),
        [M_TOP] = MAT(8, RGB(220, 40, 40), RGB(40, 90, 220),
                      RGB(240, 200, 40), RGB(240, 240, 240),
                      RGB(60, 180, 90), RGB(230, 120, 30)),
        [M_LEGS] = MAT(6, RGB(40, 60, 140), RGB(50, 50, 55),
                       RGB(200, 180, 140)),
        [M_SKIN] = MAT(0, RGB(230, 190, 160), RGB(190, 140, 100),
                       RGB(120, 80, 60)),
        [M_CAR] = MAT(4, RGB(190, 25, 25), RGB(25, 60, 190),
                      RGB(230, 200, 30), RGB(235, 235, 235), RGB(25, 25, 28),
                      RGB(30, 150, 60), RGB(230, 120, 20)),
        [M_TRUCK] = MAT(4, RGB(235, 235, 230), RGB(200, 40, 40),
                        RGB(60, 90, 160)),
        [M_BUS] = MAT(4, RGB(235, 180, 20), RGB(220, 140, 20)),
        [M_HOOD] = MAT(0, RGB(40, 45, 55)),
    },
    .sat = 1.25f, .contrast = 1.1f, .cast = {1.05f, 1.0f, 0.93f},
    .exposure = 0.08f, .blur = 0, .noise = 2, .vignette = 0,
};

/* The target: a car camera in a European city on an overcast day: fixed
 * low camera and hood, narrow streets with parked cars, tall continuous
 * facades, many trees and pedestrians; class colours reshuffled. */
const style synth_target = {
    .cam_h = {1.2f, 1.3f}, .horizon = {0.38f, 0.44f}, .focal = {0.78f, 0.85f},
    .lanes = {2, 2}, .lane_w = 3.0f, .parking_p = 0.9f, .park_fill = 0.75f,
    .side_w = {3.0f, 5.0f}, .setback = {1.0f, 4.0f}, .terrain_p = 0.65f,
    .bld_h = {10, 25}, .bld_len = {8, 20}, .gap_p = 0.1f, .end_p = 0.7f,
    .street_len = {40, 120}, .tree_p = 0.75f, .tree_step = 8,
    .lamp_step = {15, 25}, .signs = {2, 6}, .movers = {0, 3},
    .persons = {3, 12}, .truck_p = 0.15f, .bus_p = 0.15f, .cross_p = 0.6f,
    .wall_p = 0.2f, .fence_p = 0.25f, .cloud = 0.08f, .tile = 0.35f,
    .verge_p = 0.5f,
    .obj_scale = {0.9f, 1.0f}, .hood = 1, .edge_lines = 0,
    .m = {
        [M_SKY_TOP] = MAT(0, RGB(170, 185, 205), RGB(185, 192, 205)),
        [M_SKY_LOW] = MAT(0, RGB(210, 215, 222), RGB(222, 224, 228)),
        [M_CLOUD] = MAT(0, RGB(235, 235, 238)),
        [M_ROAD] = MAT(6, RGB(140, 135, 142), RGB(150, 145, 150),
                       RGB(132, 130, 138)),
        [M_MARK] = MAT(0, RGB(205, 205, 200)),
        [M_SIDEWALK] = MAT(8, RGB(140, 100, 90), RGB(150, 115, 95),
                           RGB(125, 95, 85)),
        [M_CURB] = MAT(5, RGB(165, 160, 155)),
        [M_BUILDING] = MAT(6, RGB(170, 170, 165), RGB(120, 118, 115),
                           RGB(185, 175, 155), RGB(95, 95, 100),
                           RGB(200, 185, 160), RGB(150, 140, 125)),
        [M_GLASS] = MAT(0, RGB(60, 65, 70), RGB(45, 50, 55), RGB(80, 85, 90)),
        [M_WALL] = MAT(8, RGB(120, 115, 105)),
        [M_FENCE] = MAT(4, RGB(60, 70, 60)),
        [M_VEG] = MAT(28, RGB(70, 90, 45), RGB(60, 80, 40), RGB(85, 95, 50)),
        [M_TRUNK] = MAT(6, RGB(70, 60, 50)),
        [M_TERRAIN] = MAT(18, RGB(95, 150, 55), RGB(105, 160, 60),
                          RGB(85, 140, 50)),
        [M_POLE] = MAT(3, RGB(135, 135, 135), RGB(120, 125, 125)),
        [M_LIGHT] = MAT(3, RGB(30, 30, 32)),
        [M_SIGN] = MAT(0, RGB(20, 70, 160), RGB(200, 30, 30),
                       RGB(230, 200, 50)),
        [M_TOP] = MAT(6, RGB(40, 40, 50), RGB(70, 60, 55), RGB(60, 70, 90),
                      RGB(110, 30, 40), RGB(150, 150, 150)),
        [M_LEGS] = MAT(5, RGB(30, 30, 40), RGB(60, 55, 50)),
        [M_SKIN] = MAT(0, RGB(230, 190, 160), RGB(190, 140, 100),
                       RGB(120, 80, 60)),
        [M_CAR] = MAT(4, RGB(165, 165, 170), RGB(35, 35, 40),
                      RGB(215, 215, 215), RGB(40, 50, 80), RGB(110, 110, 115),
                      RGB(120, 30, 30)),
        [M_TRUCK] = MAT(4, RGB(70, 80, 90), RGB(200, 200, 200)),
        [M_BUS] = MAT(4, RGB(225, 225, 220), RGB(200, 40, 40)),
        [M_HOOD] = MAT(0, RGB(30, 32, 38)),
    },
    .sat = 0.6f, .contrast = 0.9f, .cast = {0.96f, 1.02f, 1.0f},
    .exposure = 0.2f, .blur = 0.8f, .noise = 5, .vignette = 0.25f,
};

