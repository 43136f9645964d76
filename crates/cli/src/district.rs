//! `gridpatrol district …`: counts and point location in the demo district.

use std::process::ExitCode;

use clap::Subcommand;
use gridpatrol_district::{coords, DemoDistrict, GridIndex};

use crate::print_json;

/// Coordinate system of a `locate` input point.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Crs {
    /// GPS / phone coordinates (stored form).
    Wgs84,
    /// Chinese base-map coordinates; converted to WGS-84 first.
    Gcj02,
}

/// District subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Counts of streets, grids, squads and inspectors.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Which technical grid, supervision grid and street a point is in.
    Locate {
        /// Longitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Latitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Coordinate system of the point.
        #[arg(long, value_enum, default_value = "wgs84")]
        crs: Crs,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// An account's assignment: supervision grid, squad, its leader, and a
    /// point inside the grid's first cell (a test fix for the desktop app).
    Whois {
        /// Account id, e.g. `I0002`.
        id: String,
    },
    /// SHA-256 of the generated district (identical on every machine).
    Fingerprint,
}

/// Runs a district subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Stats { json } => {
            let stats = DemoDistrict::get().district.stats();
            if json {
                print_json(&stats)?;
            } else {
                println!("streets            {}", stats.streets);
                println!("supervision grids  {}", stats.supervision_grids);
                println!("technical grids    {}", stats.technical_grids);
                println!("squads             {}", stats.squads);
                println!("inspectors         {}", stats.inspectors);
            }
        }
        Cmd::Locate {
            lon,
            lat,
            crs,
            json,
        } => {
            if !lon.is_finite() || !lat.is_finite() {
                eprintln!("error: coordinates must be finite numbers");
                return Ok(ExitCode::from(crate::EXIT_REFUSED));
            }
            let (lon, lat) = match crs {
                Crs::Wgs84 => (lon, lat),
                Crs::Gcj02 => coords::gcj02_to_wgs84(lon, lat),
            };
            let demo = DemoDistrict::get();
            let index = GridIndex::new(demo);
            match index.locate(lon, lat) {
                Some(loc) => {
                    if json {
                        print_json(&loc)?;
                    } else {
                        let street = demo
                            .district
                            .street(&loc.street)
                            .map(|s| s.name.as_str())
                            .unwrap_or("");
                        let grid = demo
                            .district
                            .supervision_grid(&loc.supervision_grid)
                            .map(|g| g.name.as_str())
                            .unwrap_or("");
                        println!("technical grid    {}", loc.technical_grid);
                        println!("supervision grid  {} {grid}", loc.supervision_grid);
                        println!("street            {} {street}", loc.street);
                    }
                }
                None => {
                    eprintln!("({lon}, {lat}) is outside the district");
                    return Ok(ExitCode::from(crate::EXIT_REFUSED));
                }
            }
        }
        Cmd::Whois { id } => {
            use geo::InteriorPoint;
            let demo = DemoDistrict::get();
            let d = &demo.district;
            let Some(who) = d.inspectors.iter().find(|i| i.id == id) else {
                eprintln!("error: no inspector or squad leader {id} in the demo district");
                return Ok(ExitCode::from(crate::EXIT_REFUSED));
            };
            let leader = d
                .squads
                .iter()
                .find(|s| s.id == who.squad)
                .map(|s| s.leader.clone());
            let point = d
                .technical_grids
                .iter()
                .position(|t| t.supervision_grid == who.supervision_grid)
                .and_then(|k| demo.geometry[k].interior_point())
                .map(|p| [p.x(), p.y()]);
            print_json(&serde_json::json!({
                "id": who.id,
                "name": who.name,
                "role": who.role,
                "squad": who.squad,
                "leader": leader,
                "supervision_grid": who.supervision_grid,
                "point": point,
            }))?;
        }
        Cmd::Fingerprint => println!("{}", DemoDistrict::get().fingerprint()),
    }
    Ok(ExitCode::SUCCESS)
}
